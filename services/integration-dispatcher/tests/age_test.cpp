// Jobs do not wait for ever: behind a breaker that stays open far longer than MAX_JOB_AGE (4 s
// here, the cool-down is a minute) jobs are dead-lettered at about their age limit and
// announced; an old limits-retention DM_DISPATCH becomes a work queue once nothing is pending.
// Retries about 2 s later (still within the age limit): old-a's retry is not the second failure
// that opens the breaker unless old-b's first attempt comes later still (at 200 ms, a loaded
// machine could make it).
#define DM_DISPATCH_STACK_ENV                                                                                          \
  {"DISPATCHER_MAX_ATTEMPTS", "20"}, {"DISPATCHER_BREAKER_THRESHOLD", "2"}, {"DISPATCHER_BREAKER_COOLDOWN", "60s"},    \
      {"DISPATCHER_BREAKER_FIRST_COOLDOWN", "60s"}, {"DISPATCHER_RETRY_BASE", "2s"}, {"DISPATCHER_RETRY_CAP", "2s"}, { \
    "DISPATCHER_MAX_JOB_AGE", "4s"                                                                                     \
  }
#include "dispatch_fixture.hpp"

using namespace dm;
using namespace dm::test;

TEST_CASE("jobs behind an open breaker are dead-lettered once older than MAX_JOB_AGE, and announced") {
  testing::MessageCollector taps(stack().nats().url(), "dm.deadletter.deliveries");
  Sink sink({"--fail-first", "1000000000", "--fail-status", "503"});
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  // Two failures open the breaker for a minute.
  publish_job("old-a", "integration", id);
  publish_job("old-b", "integration", id);
  REQUIRE(eventually([&] { return call("GET", "/api/v1/integrations/" + id).str("status") == "error"; }));
  // These arrive while it is open: never attempted.
  for (const char* job : {"old-c", "old-d", "old-e"}) publish_job(job, "integration", id);
  Reply dead;
  // Well within the breaker's minute: the age limit, not the cool-down, decides.
  REQUIRE(eventually(
      [&] {
        dead = call("GET", "/api/v1/integrations/" + id + "/dead-letters");
        return dead.status == 200 && dead.json.Size() == 5;
      },
      std::chrono::seconds(30)));
  CHECK(sink.stat("failed") == 2);
  for (const auto& d : dead.json.GetArray()) {
    std::string job(json::view(d["job_id"]));
    std::string error(json::view(d["last_error"]));
    INFO(job << ": " << error);
    CHECK(error.find("not delivered within 4s") != std::string::npos);
    CHECK(error.find("503") != std::string::npos);  // the last error: its own, or its target's
    if (job == "old-a" || job == "old-b") {
      CHECK(error.find("due for attempt 2") != std::string::npos);
      CHECK(d["attempts"].GetInt() == 1);
    } else {
      CHECK(error.find("circuit breaker open") != std::string::npos);
      CHECK(d["attempts"].GetInt() == 0);
    }
  }
  CHECK(count_history(id, "dead_lettered") == 5);
  CHECK(count_history(id, "retrying") == 2);
  REQUIRE(taps.wait_for(5));
  for (const auto& m : taps.messages()) {
    auto tap = json::parse(m.data);
    REQUIRE(tap.ok());
    CHECK(std::string(json::view((*tap)["kind"])) == "deliveries");
    CHECK((*tap)["attempts"].GetInt() >= 1);  // the schema's minimum, also for never-attempted jobs
  }
}

TEST_CASE("provisioning makes an old limits-retention DM_DISPATCH a work queue once nothing is pending") {
  auto& js = nats().jetstream();
  stack().stop("integration-dispatcher");
  REQUIRE(js.delete_stream("DM_DISPATCH").ok());
  // As an earlier version made it, with its consumer and one job not delivered yet.
  REQUIRE(js.ensure_stream({.name = "DM_DISPATCH", .subjects = {"dm.work.dispatch.>"}}).ok());
  REQUIRE(js.ensure_consumer("DM_DISPATCH", {.durable = "integration-dispatcher", .max_deliver = -1}).ok());
  Sink sink;
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  publish_job("limits-1", "integration", id);
  // A job is pending: the stream is kept as it is (nothing acknowledged may be lost).
  stack().provision();
  CHECK(js.stream_state("DM_DISPATCH")->retention == bus::Retention::limits);
  stack().start("integration-dispatcher");
  REQUIRE(stack().wait_ready("integration-dispatcher", std::chrono::seconds(30)));
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 1; }));
  // Delivered: nothing pending any more, so provisioning makes it anew as a work queue, and
  // deliveries go on (and leave the stream).
  REQUIRE(eventually([&] {
    auto c = js.consumer_state("DM_DISPATCH", "integration-dispatcher");
    return c && c->pending + c->ack_pending == 0;
  }));
  stack().stop("integration-dispatcher");
  stack().provision();
  auto state = js.stream_state("DM_DISPATCH");
  REQUIRE(state.ok());
  CHECK(state->retention == bus::Retention::work_queue);
  stack().start("integration-dispatcher");
  REQUIRE(stack().wait_ready("integration-dispatcher", std::chrono::seconds(30)));
  publish_job("queue-1", "integration", id);
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 2; }));
  REQUIRE(eventually([&] { return js.stream_state("DM_DISPATCH")->messages == 0; }));
}
