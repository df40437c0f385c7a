#pragma once
// publish_async bookkeeping. nats.c reports every async publish through one ack handler per
// jsCtx, handing back the natsMsg it was given; we map that natsMsg* to the caller's callback.
// The pointer is a safe key: the library owns the message until the handler runs, and we free
// it only after removing it from the map, so no live entry can share an address with a new one.
// Our timer is the only deadline, and it guarantees every callback runs exactly once. nats.c's
// own (jsPubOptions.MaxWait) is not used: it keeps every publish in a list until its deadline,
// acked or not, and per publish fires a timer, makes a timeout message, wakes the ack thread
// and its garbage collector (≈ 6 context switches for nothing). Without it nats.c never gives
// up on a publish, so when an ack is really lost (the connection broke after the server took
// the message) we take back everything nats.c still holds: the lost ones are freed, the live
// ones sent again (same Nats-Msg-Id, so the stream keeps one copy; their ack says duplicate).
// A stream without a leader answers "no responders": on a cluster, that is the few seconds in
// which its Raft group elects a new one after a node died. Such a publish is held and sent
// again (same message, same Nats-Msg-Id, so the stream keeps one copy) every kRetryDelay until
// the ack timeout runs out, instead of failing at once: callers see a slower ack, not an error.
#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "deadline_timer.hpp"
#include "dm/bus/jetstream.hpp"

namespace dm::bus {

class AsyncPublisher {
 public:
  using Done = std::function<void(Result<PubAck>)>;

  explicit AsyncPublisher(std::chrono::milliseconds ack_timeout);
  ~AsyncPublisher();

  // The C ack handler and its closure for jsOptions.PublishAsync.
  static void ack_handler(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
  void set_closure(void* closure) { closure_ = closure; }
  void* closure() const { return closure_; }

  void publish(jsCtx* js, std::string_view subject, std::string_view data, std::string_view msg_id, Done done,
               const Headers& headers);
  // True once nothing is pending (acked, failed or timed out), false at the deadline.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);
  // Fails everything still pending with Errc::unavailable, from the timer thread.
  void close();

 private:
  struct Pending {
    Done done;
    natsMsg* msg = nullptr;        // the library's while in flight; ours while held
    std::optional<Error> failure;  // why it failed (locally, or the last "no responders")
    std::string msg_id;
    DeadlineTimer::Clock::time_point ack_by;  // the ack timeout
    bool held = false;                        // waiting to be sent again
  };

  void on_ack(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae);
  // Hands `msg` to the library for `token`; fails the token when the library does not take it.
  void send(std::uint64_t token, natsMsg* msg, const std::string& msg_id, std::string_view subject);
  // After a lost ack: takes back what nats.c holds (see above).
  void reclaim();
  std::optional<Pending> take_token(std::uint64_t token);
  // The timer: sends a held message again, or ends a publish whose time is up.
  void on_timer(std::uint64_t token);
  void expire(std::uint64_t token);
  void fail_all();

  const std::chrono::milliseconds ack_timeout_;
  void* closure_ = nullptr;
  jsCtx* js_ = nullptr;  // the connection's one context, set by the first publish
  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::unordered_map<natsMsg*, std::uint64_t> token_of_;
  std::uint64_t next_token_ = 0;
  bool closed_ = false;
  DeadlineTimer timer_;
};

}  // namespace dm::bus
