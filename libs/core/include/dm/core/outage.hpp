#pragma once
// What a background writer knows about a dependency that keeps failing (the database for a
// history writer): how long to wait before the next try (exponential, capped), since when
// it has been failing and why, for /readyz, and one log line when it starts and one when it
// ends instead of one per retry.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "dm/core/result.hpp"

namespace dm {

class Outage {
 public:
  using Clock = std::chrono::steady_clock;
  // `what` names the work that waits ("device history"), for logs and /readyz.
  explicit Outage(std::string what, std::chrono::milliseconds first = std::chrono::milliseconds(250),
                  std::chrono::milliseconds cap = std::chrono::seconds(5));

  // A try failed: returns the wait before the next one (first, doubling, at most cap).
  std::chrono::milliseconds failed(const Error& error);
  // A try succeeded: the next failure starts from `first` again.
  void recovered();
  // ok while nothing fails; else unavailable "<what>: <error> (failing for N s)".
  Result<void> health() const;
  bool failing() const;

 private:
  const std::string what_;
  const std::chrono::milliseconds first_, cap_;
  mutable std::mutex mu_;
  std::optional<Clock::time_point> since_;
  std::chrono::milliseconds next_{0};
  std::string last_error_;
  int failures_ = 0;
};

}  // namespace dm
