#include "pacing.hpp"

#include <algorithm>

namespace dm::dispatcher {

CircuitBreaker::Admit CircuitBreaker::admit(SteadyClock::time_point now) {
  if (!open_) return Admit::attempt;
  if (now < until_ || probing_) return Admit::no;
  probing_ = true;
  return Admit::probe;
}

SteadyClock::duration CircuitBreaker::wait(SteadyClock::time_point now) const {
  return open_ && now < until_ ? until_ - now : SteadyClock::duration::zero();
}

CircuitBreaker::Change CircuitBreaker::record(Result result, bool was_probe, SteadyClock::time_point now) {
  if (was_probe) probing_ = false;
  switch (result) {
    case Result::answered:
      failures_ = 0;
      if (!open_) return Change::none;
      open_ = false;
      current_ = {};
      return Change::closed;
    case Result::failed:
      ++failures_;
      // A failed probe opens the breaker again; failures of attempts that started before it
      // opened change nothing more.
      if (open_ && !was_probe) return Change::none;
      if (!open_ && failures_ < threshold_) return Change::none;
      open_ = true;
      current_ = current_ == SteadyClock::duration{} ? first_cooldown_ : std::min(cooldown_, current_ * 2);
      until_ = now + current_;
      return Change::opened;
    case Result::none:
      return Change::none;
  }
  return Change::none;
}

AdaptiveConcurrency::AdaptiveConcurrency(int initial, int max)
    : min_(std::max(1, initial)), max_(std::max(min_, max)), limit_(min_) {}

std::chrono::microseconds AdaptiveConcurrency::best() const {
  return std::chrono::microseconds(static_cast<std::int64_t>(best_us_));
}

void AdaptiveConcurrency::sample(std::chrono::microseconds latency, bool failed, bool waiting, int in_flight) {
  ++samples_;
  if (failed) ++failures_;
  latency_sum_us_ += static_cast<double>(std::max<std::int64_t>(latency.count(), 1));
  waiting_ = waiting_ || waiting;
  peak_ = std::max(peak_, in_flight);
  // About one round of attempts per window: long enough for a mean, short enough to follow.
  if (samples_ >= std::max(limit_, 4)) end_window();
}

void AdaptiveConcurrency::end_window() {
  double mean = latency_sum_us_ / samples_;
  if (failures_ == 0 && (best_us_ == 0 || mean < best_us_)) best_us_ = mean;
  auto shrink = [&] {
    // At the floor and still slow: the target is slower for good, not congested by us.
    if (limit_ == min_ && failures_ == 0) best_us_ = mean;
    limit_ = std::max(min_, limit_ * 3 / 4);
    slow_start_ = limit_ == min_;
  };
  if (failures_ > 0 || mean > 2 * best_us_) {
    shrink();
  } else if (mean <= 1.25 * best_us_ && waiting_ && peak_ >= limit_) {
    int grown = slow_start_ ? limit_ * 3 / 2 : limit_ + limit_ / 8;
    limit_ = std::min(max_, std::max(limit_ + 1, grown));
  }
  samples_ = failures_ = peak_ = 0;
  latency_sum_us_ = 0;
  waiting_ = false;
}

void HandBackSchedule::completed(SteadyClock::time_point now, bool saturated) {
  // Jobs were waiting when the previous attempt finished: another started at once, so the time
  // until this finish was busy.
  if (last_saturated_ && now > last_finish_) {
    busy_ += now - last_finish_;
    ++busy_count_;
  }
  last_finish_ = now;
  last_saturated_ = saturated;
  if (busy_ < std::chrono::seconds(1)) return;
  double rate = busy_count_ / std::chrono::duration<double>(busy_).count();
  per_second_ = per_second_ == 0 ? rate : 0.5 * per_second_ + 0.5 * rate;
  measured_at_ = now;
  busy_ = {};
  busy_count_ = 0;
}

std::chrono::milliseconds HandBackSchedule::next(std::size_t queued, SteadyClock::time_point now) {
  if (now - measured_at_ > kMax) per_second_ = 0;  // not confirmed lately: forgotten
  if (per_second_ < 1) return kUnknown;            // pace unknown (or a trickle)
  auto per_job = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(1.0 / per_second_));
  // Back when half of what waits in memory has gone, so the queue never runs dry in between.
  auto earliest = now + per_job * static_cast<long>(queued / 2);
  if (lined_up_until_ < earliest) lined_up_until_ = earliest;
  // A line longer than kMax is not kept: later jobs return with the cap, as the first do.
  if (lined_up_until_ > now + kMax) lined_up_until_ = now + kMax;
  auto at = lined_up_until_;
  lined_up_until_ += per_job;
  return std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(at - now), kMin, kMax);
}

}  // namespace dm::dispatcher
