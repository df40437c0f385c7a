// The runner's pure pieces: the per-caller fair share of test runs and proven-crash quarantine.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "quarantine.hpp"
#include "test_gate.hpp"

using namespace dm::function_runner;

TEST_CASE("test gate: a caller gets `concurrency` runs at once and `queue` waiting, then no more") {
  TestGate gate(2, 3);
  std::vector<TestGate::Finished> running;
  std::vector<int> started;
  auto start = [&](int n) {
    return [&, n](TestGate::Finished finished) {
      started.push_back(n);
      running.push_back(std::move(finished));
    };
  };
  for (int n = 1; n <= 5; ++n) CHECK(gate.admit("alice", start(n)));
  CHECK_FALSE(gate.admit("alice", start(6)));  // 2 running + 3 waiting
  CHECK(started == std::vector<int>{1, 2});
  // Another caller has a share of its own.
  CHECK(gate.admit("bob", start(100)));
  CHECK(started == std::vector<int>{1, 2, 100});

  // Each finished run lets the caller's next waiting one start, in order.
  running[0]();
  CHECK(started == std::vector<int>{1, 2, 100, 3});
  CHECK(gate.admit("alice", start(7)));  // a place in the queue is free again
  running[1]();
  running[3]();
  CHECK(started == std::vector<int>{1, 2, 100, 3, 4, 5});
  running[4]();
  running[5]();
  CHECK(started.back() == 7);
  running.back()();
  running[2]();  // bob's
  // Nothing in flight: every caller has a full share again.
  started.clear();
  running.clear();
  for (int n = 1; n <= 5; ++n) CHECK(gate.admit("alice", start(n)));
  CHECK(started.size() == 2);
}

TEST_CASE("quarantine needs `strikes` proven crashes within the window") {
  Quarantine q(2, std::chrono::seconds(60), std::chrono::seconds(60));
  CHECK_FALSE(q.strike("f"));
  CHECK_FALSE(q.contains("f"));
  CHECK(q.strike("f"));
  CHECK(q.contains("f"));
  CHECK_FALSE(q.contains("g"));
  CHECK_FALSE(q.strike(""));  // jobs without a function (compile checks) are never quarantined
  CHECK_FALSE(q.contains(""));
}
