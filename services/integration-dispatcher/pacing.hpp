#pragma once
// How hard the dispatcher presses each target, as pure state machines tested without servers:
// the circuit breaker (stop attempting a target that keeps failing, probe it one attempt at a
// time), the adaptive concurrency of HTTP targets (as many attempts in flight as the target
// answers without slowing down), and the schedule of jobs handed back for a full queue.
// Not thread-safe: the dispatcher keeps them under its lock.
#include <chrono>
#include <cstddef>

namespace dm::dispatcher {

using SteadyClock = std::chrono::steady_clock;

// After `threshold` consecutive target failures the breaker opens: no attempt starts for
// `cooldown`. Then it is half-open: one attempt at a time (the probe) may start. A probe the
// target answers closes it; a probe the target fails opens it for another cool-down. Without
// the half-open step every job queued behind the breaker was attempted (and charged an
// attempt) at once against a target that was most likely still down.
class CircuitBreaker {
 public:
  // The cool-down before a probe starts at `first_cooldown` and doubles with each failed probe
  // up to `cooldown`, and starts short again once the target answered: a target that comes
  // back is found within seconds, one that stays down is probed rarely.
  CircuitBreaker(int threshold, SteadyClock::duration cooldown,
                 SteadyClock::duration first_cooldown = std::chrono::seconds(1))
      : threshold_(threshold), cooldown_(cooldown), first_cooldown_(std::min(first_cooldown, cooldown)) {}

  enum class Admit { no, attempt, probe };
  // May one more attempt start now? `probe` marks the half-open probe (only one at a time).
  Admit admit(SteadyClock::time_point now);
  // How long until an attempt may start again, while open; zero when closed or half-open.
  SteadyClock::duration wait(SteadyClock::time_point now) const;

  // What an attempt showed of the target: it answered (delivered, or refused for good: a 4xx
  // is the target speaking), it failed (no answer, timeout, 5xx), or nothing (the attempt never
  // reached the target: e.g. the registry could not say what the target is).
  enum class Result { answered, failed, none };
  enum class Change { none, opened, closed };
  Change record(Result result, bool was_probe, SteadyClock::time_point now);

  bool is_open() const { return open_; }  // open or half-open

 private:
  int threshold_;
  SteadyClock::duration cooldown_, first_cooldown_;
  SteadyClock::duration current_{};  // this open period's cool-down
  int failures_ = 0;                 // consecutive
  bool open_ = false;
  SteadyClock::time_point until_{};  // end of the cool-down
  bool probing_ = false;
};

// The number of attempts an HTTP target may have in flight, adapted to its answers (in the
// spirit of TCP Vegas): with more attempts in flight than the target serves in parallel, its
// latency grows while its rate does not, so latency is the signal.
//
// Samples are taken in windows of about one round of attempts (`limit` completions). After a
// window in which the limit was reached, jobs were waiting for a slot and the average latency
// stayed within 25 % of the best window seen, the limit grows: by half until the first sign
// of congestion (slow start), then by an eighth. A window whose latency is over twice the best,
// or with a failed attempt, shrinks it by a quarter. In between it holds. The floor is the
// starting limit; a target that stays twice as slow as its best even at the floor has become
// slower for good: its current latency becomes the new best and the limit may grow again.
class AdaptiveConcurrency {
 public:
  AdaptiveConcurrency(int initial, int max);
  int limit() const { return limit_; }
  // One attempt finished after `latency`. `failed`: the target failed it; `waiting`: jobs were
  // queued for a slot; `in_flight`: attempts in flight when it ended, itself included.
  void sample(std::chrono::microseconds latency, bool failed, bool waiting, int in_flight);
  std::chrono::microseconds best() const;

 private:
  void end_window();

  int min_, max_, limit_;
  bool slow_start_ = true;
  double best_us_ = 0;  // 0 = none yet
  int samples_ = 0, failures_ = 0, peak_ = 0;
  double latency_sum_us_ = 0;
  bool waiting_ = false;
};

// When a job handed back for a full target queue should come back. Handing every such job
// back for a fixed second made a long backlog cycle through the stream again and again
// (72,000 redeliveries for 50,000 jobs in the benchmark); so the jobs are lined up behind each
// other at the target's pace, returning about when the queue has room for them.
//
// The pace is what the target finishes while it is busy: attempts finished per second of the
// time between finishes with jobs waiting (each second of such time measures it again). A rate
// over all the time, idle included, is the rate of arrivals (or nothing, while a breaker or a
// database outage paused the target), not what the target can take, and lined jobs up for
// minutes behind a target that was ready at once. A pace not confirmed
// for kMax is forgotten; without one, jobs come back after kUnknown. With one, no sooner than
// kMin (a fast target drains a full queue in well under a second, and must not then idle until
// its jobs return). No delay exceeds kMax, and the schedule is reset when the target's breaker
// opens or closes.
class HandBackSchedule {
 public:
  // One attempt of the target finished (any outcome); `saturated`: jobs were waiting for a slot.
  void completed(SteadyClock::time_point now, bool saturated);
  // Delay for one more job handed back while `queued` jobs wait in memory for the target.
  std::chrono::milliseconds next(std::size_t queued, SteadyClock::time_point now);
  void reset() { *this = HandBackSchedule{}; }
  double per_second() const { return per_second_; }

  static constexpr std::chrono::milliseconds kUnknown{1000};
  static constexpr std::chrono::milliseconds kMin{100};
  static constexpr std::chrono::milliseconds kMax{60000};

 private:
  double per_second_ = 0;  // smoothed attempts finished per busy second; 0 = not known
  SteadyClock::time_point measured_at_{};
  SteadyClock::time_point last_finish_{};
  bool last_saturated_ = false;
  SteadyClock::duration busy_{};              // time between finishes with jobs waiting, not measured yet
  int busy_count_ = 0;                        // finishes in that time
  SteadyClock::time_point lined_up_until_{};  // when the jobs already handed back are expected to fit
};

}  // namespace dm::dispatcher
