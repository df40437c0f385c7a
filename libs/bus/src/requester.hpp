#pragma once
// request_async: one wildcard reply subscription (_INBOX.<nuid>.*) shared by all requests,
// a numeric token per request as the last subject token, a map token → callback, and one
// DeadlineTimer for the timeouts. Every request says it takes a reply in parts (parts.hpp);
// the parts of a reply are put back together before `done` sees it, within the same timeout.
#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "deadline_timer.hpp"
#include "dm/bus/message.hpp"
#include "dm/core/result.hpp"
#include "parts.hpp"

namespace dm::bus {

class Requester : public std::enable_shared_from_this<Requester> {
 public:
  using Done = std::function<void(Result<Message>)>;

  // Replies come back under `<inbox_prefix>.<unique token>.<request number>`.
  Requester(natsConnection* nc, std::string inbox_prefix);
  ~Requester();

  void request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout, Done done,
               const Headers& headers);
  // Unsubscribes and fails every pending request with Errc::unavailable (from the timer thread).
  void close();

  // Entry point for the reply subscription's C callback.
  void on_reply(natsMsg* msg);

 private:
  struct Pending {
    Done done;
    std::string subject;
    std::optional<Error> failure;             // set when the request failed before any reply could come
    std::optional<parts::Assembly> assembly;  // a reply coming in parts, so far
  };

  Result<void> ensure_subscribed();
  std::optional<Pending> take(std::uint64_t token);
  std::optional<std::uint64_t> token_of(std::string_view subject) const;
  void on_part(std::uint64_t token, Result<parts::PartNumber> number, natsMsg* msg);
  void expire(std::uint64_t token);
  void fail_all();

  natsConnection* nc_;
  std::string inbox_prefix_;
  std::mutex mu_;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::uint64_t next_token_ = 0;
  bool closed_ = false;
  std::string prefix_;  // "<inbox prefix>.<nuid>." once subscribed
  natsSubscription* sub_ = nullptr;
  DeadlineTimer timer_;
};

}  // namespace dm::bus
