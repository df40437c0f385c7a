#pragma once
#include <nats/nats.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "dm/bus/connection.hpp"

namespace dm::bus {

// Shared by the Subscription and the C callbacks; the callbacks' reference is dropped by
// the on-complete callback, the last thing the dispatcher thread does.
struct SubscriptionState {
  MessageHandler handler;
  std::string subject;
  std::mutex mu;
  std::condition_variable cv;
  bool complete = false;
};

struct Subscription::Impl {
  natsSubscription* sub = nullptr;
  std::shared_ptr<SubscriptionState> state;
};

Result<std::unique_ptr<Subscription>> make_subscription(natsConnection* nc, std::string_view subject,
                                                        std::string_view queue_group, MessageHandler handler);

}  // namespace dm::bus
