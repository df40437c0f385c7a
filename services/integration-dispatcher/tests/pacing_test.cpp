// The dispatcher's pacing, without servers: circuit breaker, adaptive concurrency of HTTP
// targets, and the schedule of jobs handed back for a full queue.
#include "pacing.hpp"

#include <catch2/catch.hpp>

using namespace dm::dispatcher;
using namespace std::chrono_literals;
using Admit = CircuitBreaker::Admit;
using BResult = CircuitBreaker::Result;
using Change = CircuitBreaker::Change;

TEST_CASE("the breaker opens after consecutive target failures only") {
  CircuitBreaker b(3, 10s, 10s);
  auto t = SteadyClock::now();
  CHECK(b.record(BResult::failed, false, t) == Change::none);
  CHECK(b.record(BResult::failed, false, t) == Change::none);
  CHECK(b.record(BResult::answered, false, t) == Change::none);  // an answer breaks the series
  CHECK(b.record(BResult::failed, false, t) == Change::none);
  CHECK(b.record(BResult::none, false, t) == Change::none);  // no attempt reached the target
  CHECK(b.record(BResult::failed, false, t) == Change::none);
  CHECK(b.admit(t) == Admit::attempt);
  CHECK(b.record(BResult::failed, false, t) == Change::opened);
  CHECK(b.admit(t + 1s) == Admit::no);
  CHECK(b.wait(t + 1s) == 9s);
  // Attempts that started before it opened change nothing when they fail.
  CHECK(b.record(BResult::failed, false, t + 2s) == Change::none);
  CHECK(b.wait(t + 2s) == 8s);
}

TEST_CASE("after the cool-down the breaker lets one probe through at a time") {
  CircuitBreaker b(1, 10s, 10s);
  auto t = SteadyClock::now();
  REQUIRE(b.record(BResult::failed, false, t) == Change::opened);
  auto half_open = t + 10s;
  CHECK(b.wait(half_open) == SteadyClock::duration::zero());
  CHECK(b.admit(half_open) == Admit::probe);
  CHECK(b.admit(half_open) == Admit::no);  // one probe at a time
  CHECK(b.admit(half_open + 5s) == Admit::no);

  // The probe fails: open for another cool-down.
  CHECK(b.record(BResult::failed, true, half_open + 1s) == Change::opened);
  CHECK(b.admit(half_open + 2s) == Admit::no);
  CHECK(b.wait(half_open + 2s) == 9s);

  // A probe that never reached the target frees the slot for another probe.
  auto again = half_open + 11s;
  CHECK(b.admit(again) == Admit::probe);
  CHECK(b.record(BResult::none, true, again) == Change::none);
  CHECK(b.admit(again) == Admit::probe);

  // The target answers the probe (a 4xx counts: it is up): closed, attempts flow again.
  CHECK(b.record(BResult::answered, true, again + 1s) == Change::closed);
  CHECK_FALSE(b.is_open());
  for (int i = 0; i < 5; ++i) CHECK(b.admit(again + 1s) == Admit::attempt);
}

TEST_CASE("the cool-down starts short, doubles with each failed probe, and starts short again after a recovery") {
  CircuitBreaker b(1, 10s);  // first cool-down 1 s
  auto t = SteadyClock::now();
  REQUIRE(b.record(BResult::failed, false, t) == Change::opened);
  std::vector<long> waits;
  for (int i = 0; i < 6; ++i) {
    auto w = b.wait(t);
    waits.push_back(static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(w).count()));
    t += w;
    REQUIRE(b.admit(t) == Admit::probe);
    REQUIRE(b.record(BResult::failed, true, t) == Change::opened);
  }
  CHECK(waits == std::vector<long>{1, 2, 4, 8, 10, 10});
  t += b.wait(t);
  REQUIRE(b.admit(t) == Admit::probe);
  REQUIRE(b.record(BResult::answered, true, t) == Change::closed);
  REQUIRE(b.record(BResult::failed, false, t) == Change::opened);
  CHECK(b.wait(t) == 1s);
}

namespace {

// A target serving `capacity` requests at once in `base` each; more in flight wait their turn.
struct ModelTarget {
  int capacity;
  std::chrono::microseconds base;
  std::chrono::microseconds latency(int in_flight) const {
    return std::chrono::microseconds(base.count() * std::max(1, in_flight) /
                                     std::min(capacity, std::max(1, in_flight)));
  }
};

// Rounds of attempts at the current limit, with jobs waiting (or not) for a slot.
void drive(AdaptiveConcurrency& a, const ModelTarget& t, int rounds, bool waiting = true) {
  for (int r = 0; r < rounds; ++r) {
    int n = a.limit();
    for (int i = 0; i < n; ++i) a.sample(t.latency(n), false, waiting, n);
  }
}

}  // namespace

TEST_CASE("adaptive concurrency grows to what the target serves in parallel, and no further") {
  AdaptiveConcurrency a(8, 256);
  CHECK(a.limit() == 8);
  ModelTarget t{64, 100ms};
  drive(a, t, 100);
  // Beyond 64 the latency grows; the limit settles where it is within twice the best.
  CHECK(a.limit() >= 64);
  CHECK(a.limit() <= 128);
  CHECK(a.best() == 100ms);

  // A target that keeps up with anything gets the configured maximum.
  AdaptiveConcurrency b(8, 256);
  drive(b, ModelTarget{100000, 40ms}, 100);
  CHECK(b.limit() == 256);
}

TEST_CASE("adaptive concurrency grows only when jobs wait and the limit is reached") {
  AdaptiveConcurrency a(8, 256);
  drive(a, ModelTarget{1000, 100ms}, 50, false);
  CHECK(a.limit() == 8);
  for (int i = 0; i < 200; ++i) a.sample(100ms, false, true, 3);  // only 3 of 8 in use
  CHECK(a.limit() == 8);
}

TEST_CASE("adaptive concurrency shrinks when latency grows or attempts fail, down to the starting limit") {
  AdaptiveConcurrency a(8, 256);
  drive(a, ModelTarget{100000, 100ms}, 8);
  int grown = a.limit();
  REQUIRE(grown > 30);
  // Latency more than doubles: a quarter less per window.
  for (int i = 0; i < grown; ++i) a.sample(250ms, false, true, grown);
  CHECK(a.limit() == grown * 3 / 4);
  // Failures: down to the floor, never below it.
  for (int i = 0; i < 1000; ++i) a.sample(100ms, true, true, a.limit());
  CHECK(a.limit() == 8);
}

TEST_CASE("a target that became slower for good is given room again") {
  AdaptiveConcurrency a(8, 256);
  drive(a, ModelTarget{64, 100ms}, 60);
  REQUIRE(a.limit() >= 64);
  // Three times slower for everyone: the limit falls to the floor, where the new latency
  // becomes the best, and grows again towards the capacity.
  drive(a, ModelTarget{64, 300ms}, 200);
  CHECK(a.best() == 300ms);
  CHECK(a.limit() >= 64);
  CHECK(a.limit() <= 128);
}

TEST_CASE("jobs handed back for a full queue line up at the target's pace, never beyond the cap") {
  using ms = std::chrono::milliseconds;
  HandBackSchedule s;
  auto t = SteadyClock::now();
  // Pace unknown: one second.
  CHECK(s.next(2000, t) == HandBackSchedule::kUnknown);
  // 1,000 attempts finished within a second: 1 ms per job.
  for (int i = 0; i <= 1000; ++i) s.completed(t + ms(i), true);
  t += ms(1000);
  CHECK(s.next(0, t) == HandBackSchedule::kMin);
  CHECK(s.per_second() == Approx(1000).epsilon(0.01));
  // Behind a queue of 4,000 (back when half of it has gone: 2 s), each next job 1 ms later.
  HandBackSchedule q = s;
  auto first = q.next(4000, t);
  CHECK(first >= ms(1990));
  CHECK(first <= ms(2010));
  for (int i = 0; i < 998; ++i) (void)q.next(4000, t);
  auto thousandth = q.next(4000, t);
  CHECK(thousandth - first >= ms(990));
  CHECK(thousandth - first <= ms(1010));
  // Never beyond the cap, however long the line: a minute at most.
  for (int i = 0; i < 1'000'000; ++i) (void)q.next(4000, t);
  CHECK(q.next(4000, t) == HandBackSchedule::kMax);
  CHECK(HandBackSchedule::kMax == std::chrono::minutes(1));
  // Once the target has caught up, the line starts again from now.
  HandBackSchedule caught_up = s;
  for (int i = 0; i <= 1000; ++i) caught_up.completed(t + ms(i), true);
  CHECK(caught_up.next(0, t + ms(1000)) == HandBackSchedule::kMin);
  // A pace not confirmed for a minute is forgotten.
  CHECK(q.next(4000, t + std::chrono::hours(1)) == HandBackSchedule::kUnknown);
  CHECK(q.per_second() == 0);
  // A reset (the target recovered) forgets the pace too.
  s.reset();
  CHECK(s.per_second() == 0);
  CHECK(s.next(4000, t) == HandBackSchedule::kUnknown);
}

TEST_CASE("the hand-back pace is measured while the target is busy, not over idle time") {
  using ms = std::chrono::milliseconds;
  HandBackSchedule s;
  auto t = SteadyClock::now();
  // 40 a second arrive and finish at once, nothing waits: that is not what the target can take.
  for (int i = 0; i < 400; ++i) s.completed(t + ms(25 * i), false);
  t += ms(10000);
  CHECK(s.per_second() == 0);
  CHECK(s.next(150, t) == HandBackSchedule::kUnknown);
  // Busy in bursts, idle in between: the pace is that of the bursts (2 ms per attempt).
  for (int burst = 0; burst < 5; ++burst) {
    for (int i = 0; i < 125; ++i) s.completed(t + ms(2 * i), i < 124);
    t += ms(1000);
  }
  CHECK(s.per_second() == Approx(500).epsilon(0.01));
  CHECK(s.next(1000, t) == ms(1000));  // behind 500 queued at 2 ms each
}
