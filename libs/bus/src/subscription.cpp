#include <chrono>

#include "callbacks.hpp"
#include "nats_message.hpp"
#include "status.hpp"
#include "subscription_impl.hpp"

namespace dm::bus {
namespace {

using Holder = std::shared_ptr<SubscriptionState>;

// The subscription whose handler runs on this thread: its destructor must not wait for
// itself to finish.
thread_local const SubscriptionState* current_state = nullptr;

void on_message_cb(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  NatsMsgPtr msg(raw);
  if (raw == nullptr) return;
  SubscriptionState& state = **static_cast<Holder*>(closure);
  CallbackScope scope;
  const SubscriptionState* outer = current_state;
  current_state = &state;
  invoke_user(state.subject, state.handler, to_message(raw));
  current_state = outer;
}

void on_complete_cb(void* closure) {
  auto* holder = static_cast<Holder*>(closure);
  {
    std::lock_guard lock((*holder)->mu);
    (*holder)->complete = true;
    (*holder)->cv.notify_all();  // under the lock: the waiter may free the state right after
  }
  delete holder;
}

}  // namespace

Result<std::unique_ptr<Subscription>> make_subscription(natsConnection* nc, std::string_view subject,
                                                        std::string_view queue_group, MessageHandler handler) {
  if (!handler) return Error(Errc::invalid_argument, "nats: subscribe without a handler");
  auto state = std::make_shared<SubscriptionState>();
  state->handler = std::move(handler);
  state->subject = std::string(subject);
  const std::string queue(queue_group);

  auto* holder = new Holder(state);
  natsSubscription* sub = nullptr;
  natsStatus s = queue.empty() ? natsConnection_Subscribe(&sub, nc, state->subject.c_str(), on_message_cb, holder)
                               : natsConnection_QueueSubscribe(&sub, nc, state->subject.c_str(), queue.c_str(),
                                                               on_message_cb, holder);
  if (s != NATS_OK) {
    delete holder;
    return nats_error(s, "nats: subscribe to '" + state->subject + "'");
  }
  s = natsSubscription_SetOnCompleteCB(sub, on_complete_cb, holder);
  if (s != NATS_OK) {
    // Closed under our feet; its dispatcher may still touch `holder`, so it is left to leak.
    natsSubscription_Destroy(sub);
    return Error(Errc::unavailable, "nats: subscribe to '" + state->subject + "': connection closed");
  }
  auto impl = std::make_unique<Subscription::Impl>();
  impl->sub = sub;
  impl->state = std::move(state);
  return std::make_unique<Subscription>(std::move(impl));
}

Subscription::Subscription(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Subscription::~Subscription() {
  if (!impl_) return;
  natsSubscription_Unsubscribe(impl_->sub);  // fails harmlessly if drained or the connection closed
  auto& state = *impl_->state;
  if (current_state != &state) {
    std::unique_lock lock(state.mu);
    state.cv.wait(lock, [&] { return state.complete; });
  }
  natsSubscription_Destroy(impl_->sub);
}

Result<void> Subscription::drain(std::chrono::milliseconds timeout) {
  if (current_state == impl_->state.get())
    return Error(Errc::internal, "nats: drain of '" + impl_->state->subject + "' from its own handler");
  natsStatus s = natsSubscription_DrainTimeout(impl_->sub, timeout.count());
  if (s != NATS_OK) return nats_error(s, "nats: drain '" + impl_->state->subject + "'");
  // The drain itself is bounded by `timeout`; the extra second only covers its bookkeeping.
  s = natsSubscription_WaitForDrainCompletion(impl_->sub, timeout.count() + 1000);
  if (s != NATS_OK) return nats_error(s, "nats: drain '" + impl_->state->subject + "'");
  s = natsSubscription_DrainCompletionStatus(impl_->sub);
  if (s != NATS_OK) return nats_error(s, "nats: drain '" + impl_->state->subject + "'");
  return ok();
}

}  // namespace dm::bus
