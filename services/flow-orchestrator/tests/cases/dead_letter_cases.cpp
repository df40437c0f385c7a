// Nothing accepted jams the lanes: an uplink that cannot be read, one whose run PostgreSQL
// refuses, and one that could not run within its deliveries leave the pipeline as dead
// letters (listed and retried through the gateway), while the device's other uplinks go on.
#include "dm/contract/device_event.hpp"
#include "dm/contract/subjects.hpp"
#include "flow_fixture.hpp"

using namespace dm;
using namespace dm::test;

namespace {

const char* kPassThrough = "function process(m) { return {t: m.data.t}; }";

// The dead letters of kind `uplinks` whose error contains `part`.
std::vector<std::string> dead_letters_with(const std::string& part) {
  auto r = call("GET", "/api/v1/dead-letters/uplinks?limit=1000");
  INFO(r.body);
  REQUIRE(r.status == 200);
  std::vector<std::string> ids;
  for (const auto& d : r.json.GetArray())
    if (std::string(json::view(d["error"])).find(part) != std::string::npos) ids.emplace_back(json::view(d["id"]));
  return ids;
}

// Publishes one batch of events straight into the device stream, past the webhook's checks
// (as a bug could have let them through): each (tap subject, data) one line of it.
void publish_raw(const std::vector<std::pair<std::string, std::string>>& events, const std::string& msg_id) {
  contract::BatchWriter batch;
  for (const auto& [subject, data] : events) batch.add(subject, data);
  auto conn = bus::Connection::connect({.url = stack().nats().url(), .name = "poison"});
  REQUIRE(conn.ok());
  REQUIRE((*conn)
              ->jetstream()
              .publish(contract::subject::event_batch("up"), batch.take(), msg_id, std::chrono::seconds(5))
              .ok());
}

}  // namespace

TEST_CASE("poison uplinks become dead letters and the device's other uplinks still run") {
  Sink sink;
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto fn = create_function(kPassThrough);
  auto integration = create_http_integration(sink.url());
  create_flow({{"t", "device", device, ""}, {"f", "function", fn, ""}}, {{"t", "f"}});
  create_flow({{"t", "device", device, ""}, {"i", "integration", integration, ""}}, {{"t", "i"}});
  REQUIRE(view_has_flows());
  Listener tapped("dm.deadletter.uplinks");

  REQUIRE(post_uplink(uplink(eui, unique("ok") + "-" + eui, 1, R"({"t":1})")).status < 300);
  std::string subject = "dm.device." + eui + ".up";
  // A line that is no event and one with a NUL in its dedup id (the run key cannot be stored;
  // only the function flow is hit by it here: a delivery job id with a NUL could not even be
  // queued), in one stream message with a good uplink: each is dealt with on its own.
  auto event = [&](const std::string& dedup_id, int t) {
    return R"({"event_type":"up","dev_eui":")" + eui + R"(","device_id":")" + device + R"(","dedup_id":")" + dedup_id +
           R"(","received_at":"2026-11-27T10:00:00Z",)" + R"("object":{"t":)" + std::to_string(t) +
           R"(},"data":"AQ=="})";
  };
  publish_raw({{subject, "this is not an event"},
               {subject, event("nul\\u0000" + eui, 2)},
               {subject, event(unique("good") + "-" + eui, 2)}},
              unique("poison"));
  REQUIRE(post_uplink(uplink(eui, unique("ok") + "-" + eui, 3, R"({"t":3})")).status < 300);

  REQUIRE(eventually([&] { return sink.stat("received") >= 3; }, std::chrono::seconds(30)));
  REQUIRE(tapped.wait_for(2, std::chrono::seconds(30)));
  CHECK(dead_letters_with("unreadable uplink").size() >= 1);
  auto refused = dead_letters_with("refused by the database");
  REQUIRE(refused.size() >= 1);
  auto one = call("GET", "/api/v1/dead-letters/uplinks/" + refused[0]);
  REQUIRE(one.status == 200);
  CHECK(one.str("subject") == subject);
  CHECK(one.str("payload").find("nul") != std::string::npos);
  // It cannot run any better now: a retry keeps it, one attempt more.
  auto again = call("POST", "/api/v1/dead-letters/uplinks/" + refused[0] + "/retry");
  REQUIRE(again.status == 200);
  CHECK(again.json["failed"].GetInt() == 1);
  CHECK(call("DELETE", "/api/v1/dead-letters/uplinks/" + refused[0]).status == 204);
}

TEST_CASE("an uplink that cannot run within its deliveries becomes a dead letter, and runs when retried") {
  Sink sink;
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto fn = create_function(kPassThrough);
  auto integration = create_http_integration(sink.url());
  auto flow =
      create_flow({{"t", "device", device, ""}, {"f", "function", fn, ""}, {"i", "integration", integration, ""}},
                  {{"t", "f"}, {"f", "i"}});
  REQUIRE(view_has_flows());

  stack().stop("function-runner");
  std::string dedup = unique("late") + "-" + eui;
  REQUIRE(post_uplink(uplink(eui, dedup, 1, R"({"t":7})")).status < 300);
  // The stack gives up after ORCHESTRATOR_MAX_DELIVERIES deliveries (1 s apart at most).
  std::vector<std::string> gave_up;
  REQUIRE(eventually(
      [&] {
        gave_up = dead_letters_with("gave up after");
        for (const auto& id : gave_up)
          if (call("GET", "/api/v1/dead-letters/uplinks/" + id).str("key") == "up:" + dedup) {
            gave_up = {id};
            return true;
          }
        return false;
      },
      std::chrono::seconds(60)));
  CHECK(run_count(flow) == 0);
  CHECK(sink.stat("received") == 0);

  stack().start("function-runner");
  REQUIRE(stack().wait_ready("function-runner", std::chrono::seconds(30)));
  auto retried = call("POST", "/api/v1/dead-letters/uplinks/" + gave_up[0] + "/retry");
  INFO(retried.body);
  REQUIRE(retried.status == 200);
  CHECK(retried.json["retried"].GetInt() == 1);
  REQUIRE(eventually([&] { return sink.stat("received") == 1; }));
  CHECK(run_count(flow, "&status=success") == 1);
  CHECK(call("GET", "/api/v1/dead-letters/uplinks/" + gave_up[0]).status == 404);
}
