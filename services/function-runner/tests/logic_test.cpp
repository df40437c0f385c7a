// The runner's pure pieces: the per-caller fair share of test runs, proven-crash quarantine,
// and a history row as the JSON document of its dead letter.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "history_row.hpp"
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

TEST_CASE("a history row survives the trip through its dead letter's JSON, bytes and all") {
  HistoryRow r;
  r.run_id = "flow-run-1:n2";
  r.function_id = "f-1";
  r.version = 3;
  r.flow_id = "flow-1";
  r.dev_eui = "0004a30b001c0530";
  r.replay = true;
  r.status = "error";
  r.input = std::string("{\"s\":\"a\xff") + "b\\u0000c\"}";  // a byte that is not UTF-8, an escaped NUL
  r.logs = R"([{"level":"info","message":"hi"}])";
  r.error = R"({"message":"Error: nope","stack":null})";
  r.duration_ms = 1.25;
  r.at = "2026-12-04T10:00:00.000000Z";
  auto text = row_json(r);
  auto back = row_from_json(text);
  REQUIRE(back.ok());
  CHECK(back->run_id == r.run_id);
  CHECK(back->function_id == r.function_id);
  CHECK(back->version == 3);
  CHECK(back->flow_id == r.flow_id);
  CHECK_FALSE(back->flow_run_id.has_value());
  CHECK(back->dev_eui == r.dev_eui);
  CHECK(back->replay);
  CHECK(back->status == "error");
  CHECK(back->input == r.input);
  CHECK_FALSE(back->output.has_value());
  CHECK(back->logs == r.logs);
  CHECK(back->error == r.error);
  CHECK(back->duration_ms == 1.25);
  CHECK(back->at == r.at);

  CHECK_FALSE(row_from_json("[]").ok());
  CHECK_FALSE(row_from_json(R"({"run_id":"x"})").ok());
}
