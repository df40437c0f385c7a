#include "deadline_timer.hpp"

#include "callbacks.hpp"

namespace dm::bus {
namespace {

DeadlineTimer::Clock::time_point round_up(DeadlineTimer::Clock::time_point when) {
  const auto grain = std::chrono::duration_cast<DeadlineTimer::Clock::duration>(DeadlineTimer::kGrain);
  const auto since = when.time_since_epoch();
  const auto rem = since % grain;
  return rem == DeadlineTimer::Clock::duration::zero() ? when : when + (grain - rem);
}

}  // namespace

DeadlineTimer::DeadlineTimer(std::function<void(std::uint64_t)> on_expire, std::function<void()> on_stop)
    : on_expire_(std::move(on_expire)), on_stop_(std::move(on_stop)), thread_([this] { run(); }) {}

DeadlineTimer::~DeadlineTimer() { stop(); }

void DeadlineTimer::schedule(Clock::time_point when, std::uint64_t token) {
  if (when > Clock::now()) when = round_up(when);
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    // Only a new earliest deadline changes how long the thread should sleep.
    wake = heap_.empty() || when < heap_.top().when;
    heap_.push({when, token});
  }
  if (wake) cv_.notify_one();
}

void DeadlineTimer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void DeadlineTimer::run() {
  CallbackScope scope;
  std::vector<std::uint64_t> due;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (heap_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto now = Clock::now();
    // A copy: wait_until keeps reading its argument, and the heap reallocates while we sleep.
    const Clock::time_point next = heap_.top().when;
    if (next > now) {
      cv_.wait_until(lock, next);
      continue;
    }
    while (!heap_.empty() && heap_.top().when <= now) {
      due.push_back(heap_.top().token);
      heap_.pop();
    }
    lock.unlock();
    for (auto token : due) on_expire_(token);
    due.clear();
    lock.lock();
  }
  lock.unlock();
  if (on_stop_) on_stop_();
}

}  // namespace dm::bus
