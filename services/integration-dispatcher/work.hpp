#pragma once
// The dispatcher's private state, shared by dispatcher.cpp and settle.cpp.
#include "dispatcher.hpp"

namespace dm::dispatcher {

struct Dispatcher::Work {
  service::MessagePart msg;  // the job's entry in its DM_DISPATCH message
  std::shared_ptr<Job> job;
  int attempt = 1;                        // the attempt this delivery would be
  std::optional<std::string> last_error;  // of the attempts recorded before (for an age dead letter)
  bool attempts_known = false;            // from the first delivery, this process' memory or the history
  bool finished = false;                  // a final state is recorded already: ack without sending
  std::shared_ptr<const Target> target;
  SteadyClock::time_point touched = SteadyClock::now();  // fetched, or last told in-progress
  std::chrono::system_clock::time_point expires;         // stored in the stream + max job age
  bool probe = false;                                    // the half-open breaker's probe
};

struct Dispatcher::TargetState {
  explicit TargetState(const Settings& s)
      : fixed_limit(s.http_concurrency),
        breaker(s.breaker_threshold, s.breaker_cooldown, s.breaker_first_cooldown),
        adaptive(s.http_concurrency, s.http_max_concurrency) {}
  int limit() const { return adaptive_limit ? adaptive.limit() : fixed_limit; }

  std::deque<std::shared_ptr<Work>> queue;
  int in_flight = 0;
  bool adaptive_limit = false;  // HTTP integrations adapt; MQTT and storages have a fixed limit
  int fixed_limit;
  CircuitBreaker breaker;
  AdaptiveConcurrency adaptive;
  HandBackSchedule full;  // when jobs handed back for a full queue return
  bool reported_error = false;
  std::string last_error;
};

struct Dispatcher::Decision {
  contract::DeliveryStatus status;
  std::optional<std::chrono::milliseconds> delay;
};

}  // namespace dm::dispatcher
