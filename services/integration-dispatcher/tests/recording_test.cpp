// Recording is apart from delivering: PostgreSQL stopped during deliveries costs no duplicate,
// no dead letter and no retry; a record PostgreSQL refuses is isolated from the others.
#include <atomic>

// A longer linger puts the jobs of one test into one history batch (the refused record must
// share its batch with good ones to be isolated from them).
#define DM_DISPATCH_STACK_ENV \
  {"DISPATCHER_MAX_ATTEMPTS", "3"}, {"DISPATCHER_BREAKER_THRESHOLD", "3"}, { "DISPATCHER_HISTORY_LINGER", "200ms" }
#include "dispatch_fixture.hpp"

using namespace dm;
using namespace dm::test;

TEST_CASE("PostgreSQL stopped during deliveries: every job delivered once, recorded once it is back") {
  Sink sink;
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  constexpr int kJobs = 200;
  std::atomic<int> published{0}, refused{0};
  // A steady flow of jobs (about 40/s) that goes on through the outage.
  std::thread publisher([&] {
    for (int i = 0; i < kJobs; ++i) {
      std::string job_id = "pg-outage-" + std::to_string(i);
      auto ack = nats().jetstream().publish("dm.work.dispatch." + id, job_json(job_id, "integration", id), job_id,
                                            std::chrono::seconds(5));
      ++(ack ? published : refused);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  });
  REQUIRE(eventually([&] { return sink.stat("received") >= 20; }));
  stack().pg().stop();
  INFO(stack().log("integration-dispatcher").substr(0, 20000));
  CHECK(eventually([&] { return dispatcher_readiness().find("recording deliveries: ") != std::string::npos; }));
  // The outage lasts longer than the ack wait (3 s here): jobs held unrecorded must be kept
  // alive in JetStream, or they would come back and be sent again. Its length is the scenario,
  // not a wait for a result.
  std::this_thread::sleep_for(std::chrono::seconds(8));
  auto during = sink.stat("received");
  stack().pg().start();
  publisher.join();
  REQUIRE(refused == 0);
  REQUIRE(eventually([&] { return sink.stat("received") >= kJobs; }, std::chrono::seconds(60)));
  REQUIRE(eventually([&] { return count_history(id, "delivered") == kJobs; }, std::chrono::seconds(30)));
  INFO("delivered during the outage: " << during);
  CHECK(sink.stat("unique_keys") == kJobs);
  CHECK(sink.stat("duplicates") == 0);
  CHECK(sink.stat("received") == kJobs);
  CHECK(count_history(id, "retrying") == 0);
  CHECK(count_history(id) == kJobs);  // writing a record again after the outage added no row
  CHECK(call("GET", "/api/v1/integrations/" + id + "/dead-letters").json.Size() == 0);
  CHECK(eventually([&] { return dispatcher_readiness().find("\"status\":\"ready\"") != std::string::npos; }));
  CHECK(call("GET", "/api/v1/integrations/" + id).str("status") == "active");
}

TEST_CASE("a record PostgreSQL refuses is isolated: the others are stored, it becomes a dead letter") {
  testing::MessageCollector taps(stack().nats().url(), "dm.deadletter.deliveries");
  auto id = create("storages", "internal", "{}");
  for (int i = 0; i < 10; ++i) {
    publish_job("poison-ok-" + std::to_string(i), "storage", id, R"({"n":)" + std::to_string(i) + "}");
    // jsonb (the records' column) refuses \u0000; the job itself is valid JSON.
    if (i == 4) publish_job("poison-bad", "storage", id, R"({"text":"a\u0000b"})");
  }
  Reply records;
  REQUIRE(eventually([&] {
    records = call("GET", "/api/v1/storages/" + id + "/records?limit=100");
    return records.status == 200 && records.json.Size() == 10;
  }));
  Reply dead;
  REQUIRE(eventually([&] {
    dead = call("GET", "/api/v1/integrations/" + id + "/dead-letters");
    return dead.status == 200 && dead.json.Size() == 1;
  }));
  CHECK(std::string(json::view(dead.json[0]["job_id"])) == "poison-bad");
  std::string error(json::view(dead.json[0]["last_error"]));
  CHECK(error.find("the database refused this record") != std::string::npos);
  // Every other job was stored at its first attempt, none retried; the refused one has a
  // history row without documents; the storage's breaker never opened (a refusal is no failure).
  CHECK(sql_value("SELECT count(*) FROM dispatcher.history WHERE target_id = '" + id +
                  "' AND status = 'delivered' AND attempt = 1") == "10");
  CHECK(sql_value("SELECT count(*) FROM dispatcher.history WHERE target_id = '" + id + "' AND status = 'retrying'") ==
        "0");
  CHECK(sql_value("SELECT status || ' ' || (request IS NULL) FROM dispatcher.history WHERE job_id = 'poison-bad'") ==
        "dead_lettered true");
  CHECK(stack().log("integration-dispatcher").find("circuit breaker open") == std::string::npos);
  // Announced on the dead-letter tap, with the id the API lists.
  REQUIRE(taps.wait_for(1));
  auto tap = json::parse(taps.messages()[0].data);
  REQUIRE(tap.ok());
  CHECK(std::string(json::view((*tap)["kind"])) == "deliveries");
  CHECK(std::string(json::view((*tap)["key"])) == "poison-bad");
  CHECK(std::string(json::view((*tap)["id"])) == std::string(json::view(dead.json[0]["id"])));
  CHECK(std::string(json::view((*tap)["subject"])) == "dm.work.dispatch." + id);
}
