#pragma once
// Proven worker crashes per function. A function with `strikes` of them within `window` is
// quarantined for `duration`: its runs are answered without reaching a worker. Only proof
// counts (see pool.hpp): a worker that died while running a job is not proof by itself.
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>

namespace dm::function_runner {

class Quarantine {
 public:
  using Clock = std::chrono::steady_clock;
  Quarantine(int strikes, std::chrono::seconds window, std::chrono::seconds duration)
      : strikes_(strikes), window_(window), duration_(duration) {}

  bool contains(const std::string& key) const;
  // Counts one proven crash; true when it put the key in quarantine.
  bool strike(const std::string& key);

 private:
  struct Record {
    std::deque<Clock::time_point> at;
    Clock::time_point until{};
  };
  int strikes_;
  std::chrono::seconds window_, duration_;
  mutable std::mutex mutex_;
  std::map<std::string, Record> records_;
};

}  // namespace dm::function_runner
