#pragma once
// One thread and one min-heap of (deadline, token) for many outstanding operations, instead
// of a thread or an OS timer per request. Tokens are never cancelled: the owner ignores the
// expiry of a token it has already completed, which keeps scheduling O(log n) and lock-light.
// Future deadlines are rounded up to a kGrain boundary, so tokens scheduled close together
// share one wake-up: without it the thread woke once per publish or request (twice at 200
// uplinks/s of every service's CPU budget) only to find the token long answered. A deadline
// fires up to kGrain late; what is due now (`when` in the past) is never delayed.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace dm::bus {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kGrain{50};

  // on_expire(token) runs on the timer thread, without the timer's lock held.
  // on_stop runs once on the timer thread as it exits, so owners can fail what is left
  // from the same thread that normally delivers their timeouts.
  DeadlineTimer(std::function<void(std::uint64_t)> on_expire, std::function<void()> on_stop);
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  void schedule(Clock::time_point when, std::uint64_t token);
  // Joins the thread (after on_stop). Idempotent. Not from on_expire/on_stop themselves.
  void stop();

 private:
  struct Entry {
    Clock::time_point when;
    std::uint64_t token;
    bool operator>(const Entry& other) const { return when > other.when; }
  };

  void run();

  std::function<void(std::uint64_t)> on_expire_;
  std::function<void()> on_stop_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dm::bus
