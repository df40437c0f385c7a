// A target's pace: the circuit breaker probes a target that is down one attempt at a time and
// charges jobs only the attempts that failed; attempts in flight grow for a target that keeps
// up; delivered jobs leave DM_DISPATCH (work-queue retention).
#define DM_DISPATCH_STACK_ENV                                                                                        \
  {"DISPATCHER_MAX_ATTEMPTS", "20"}, {"DISPATCHER_BREAKER_THRESHOLD", "3"}, {"DISPATCHER_BREAKER_COOLDOWN", "1s"}, { \
    "DISPATCHER_TARGET_QUEUE", "2000"                                                                                \
  }
#include "dispatch_fixture.hpp"

using namespace dm;
using namespace dm::test;

TEST_CASE("a target down, then up: probed one attempt at a time, no job charged an attempt it did not fail") {
  // Down: answers 503 after 100 ms, so that attempts in flight at once can be seen.
  Sink sink({"--fail-first", "1000000000", "--fail-status", "503", "--delay-ms", "100", "--threads", "16"});
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) publish_job("down-" + std::to_string(i), "integration", id);
  REQUIRE(eventually([&] { return call("GET", "/api/v1/integrations/" + id).str("status") == "error"; }));

  // Open, then half-open after each 1 s cool-down: once the attempts that started before it
  // opened are answered, the target never sees more than the one probe at a time.
  REQUIRE(eventually([&] { return sink.stat("in_flight") <= 1; }));
  REQUIRE(http::fetch("POST", sink.url("/_sink/max-in-flight/reset")).ok());
  auto failed_before = sink.stat("failed");
  REQUIRE(eventually([&] { return sink.stat("failed") >= failed_before + 3; }, std::chrono::seconds(30)));
  CHECK(sink.stat("max_in_flight") <= 1);

  // Up again: a probe succeeds, the breaker closes and the backlog is delivered.
  REQUIRE(http::fetch("POST", sink.url("/_sink/fail/0")).ok());
  REQUIRE(eventually([&] { return count_history(id, "delivered") == kJobs; }, std::chrono::seconds(60)));
  CHECK(eventually([&] { return call("GET", "/api/v1/integrations/" + id).str("status") == "active"; }));
  CHECK(sink.stat("received") == kJobs);
  CHECK(sink.stat("duplicates") == 0);
  CHECK(call("GET", "/api/v1/integrations/" + id + "/dead-letters").json.Size() == 0);
  // Attempts are what happened at the target: one `retrying` row per failure it answered, and
  // each job's attempts numbered 1..n without a gap, the delivered one last.
  CHECK(count_history(id, "retrying") == sink.stat("failed"));
  CHECK(sql_value("SELECT count(*) FROM (SELECT job_id FROM dispatcher.history WHERE target_id = '" + id +
                  "' GROUP BY job_id HAVING count(*) <> max(attempt) OR count(DISTINCT attempt) <> count(*)"
                  " OR max(attempt) <> max(attempt) FILTER (WHERE status = 'delivered')) AS wrong") == "0");
}

TEST_CASE("attempts in flight grow beyond HTTP_CONCURRENCY for a target that keeps up; DM_DISPATCH is emptied") {
  // 100 ms per request, up to 64 at once: 8 in flight (the starting limit) would take 80/s.
  Sink sink({"--delay-ms", "100", "--threads", "64"});
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  constexpr int kJobs = 600;
  for (int i = 0; i < kJobs; ++i) publish_job("fast-" + std::to_string(i), "integration", id);
  REQUIRE(eventually([&] { return count_history(id, "delivered") == kJobs; }, std::chrono::seconds(90)));
  INFO("most attempts in flight at once: " << sink.stat("max_in_flight"));
  CHECK(sink.stat("max_in_flight") > 8);
  CHECK(sink.stat("duplicates") == 0);
  CHECK(count_history(id, "retrying") == 0);
  // Work-queue retention: an acked job leaves the stream.
  CHECK(eventually([&] {
    auto state = nats().jetstream().stream_state("DM_DISPATCH");
    return state.ok() && state->messages == 0;
  }));
}
