// End to end over real HTTP, NATS, PostgreSQL and V8: uplinks posted to ingest's webhook run
// through their flows (function runner, dispatcher) to a local HTTP receiver, and every run
// is in the flow history served through the gateway.
#include "flow_fixture.hpp"

using namespace dm;
using namespace dm::test;

namespace {

const char* kAlert = R"(function process(m, p) {
  const limit = (p && typeof p.threshold === 'number') ? p.threshold : 30;
  if (m.data.temperature <= limit) return null;
  return {alert: 'temperature', dev_eui: m.dev_eui, device: m.device.name, temperature: m.data.temperature, limit: limit};
})";

std::int64_t history_count(const std::string& flow_id, const std::string& query = {}) {
  auto r = call("GET", "/api/v1/flows/" + flow_id + "/history?limit=1000" + query);
  INFO(r.body);
  REQUIRE(r.status == 200);
  return static_cast<std::int64_t>(r.json.Size());
}

std::string temp(double t) { return R"({"temperature":)" + std::to_string(t) + "}"; }

}  // namespace

TEST_CASE("temperature monitoring: the receiver gets alerts only above the threshold, history has every run") {
  Sink sink;
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto fn = create_function(kAlert);
  auto integration = create_http_integration(sink.url());
  auto flow = create_flow({{"n1", "device", device, ""},
                           {"n2", "function", fn, R"({"threshold":30})"},
                           {"n3", "integration", integration, ""}},
                          {{"n1", "n2"}, {"n2", "n3"}});
  Listener completed("dm.flow.completed." + flow);
  REQUIRE(view_has_flows());

  const double temps[] = {20, 35, 25, 40};
  std::vector<std::string> dedup_ids;
  for (int i = 0; i < 4; ++i) {
    dedup_ids.push_back(unique("up") + "-" + eui);
    auto r = post_uplink(uplink(eui, dedup_ids.back(), i + 1, temp(temps[i])));
    INFO(r.body);
    REQUIRE(r.status < 300);
  }

  REQUIRE(eventually([&] { return history_count(flow) == 4; }));
  REQUIRE(eventually([&] { return sink.stat("received") == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(sink.stat("received") == 2);  // nothing else arrives
  CHECK(sink.stat("duplicates") == 0);
  std::string last(json::view(sink.stats()["last_body"]));
  CHECK(last.find("\"alert\":\"temperature\"") != std::string::npos);
  CHECK((last.find("\"temperature\":40") != std::string::npos || last.find("\"temperature\":35") != std::string::npos));

  // One device's uplinks run in arrival order (history is newest first). The receiver may see
  // deliveries in another order: the dispatcher sends to one target concurrently.
  auto ordered = call("GET", "/api/v1/flows/" + flow + "/history");
  REQUIRE(ordered.json.Size() == 4);
  for (int i = 0; i < 4; ++i) CHECK(std::string(json::view(ordered.json[3 - i]["dedup_id"])) == dedup_ids[i]);

  CHECK(history_count(flow, "&status=success") == 2);
  CHECK(history_count(flow, "&status=filtered") == 2);
  CHECK(history_count(flow, "&status=error") == 0);

  // One successful run in detail: the path it took.
  auto runs = call("GET", "/api/v1/flows/" + flow + "/history?status=success");
  REQUIRE(runs.json.Size() == 2);
  CHECK(runs.headers.get("X-Total-Count") == std::optional<std::string>("2"));
  std::string hid(json::view(runs.json[0]["id"]));
  auto one = call("GET", "/api/v1/flows/" + flow + "/history/" + hid);
  REQUIRE(one.status == 200);
  CHECK(one.str("dev_eui") == eui);
  CHECK(one.str("device_id") == device);
  CHECK(one.str("trigger_node") == "n1");
  const auto& path = one.json["path"];
  REQUIRE(path.Size() == 3);
  CHECK(json::view(path[0]["status"]) == "success");
  CHECK(json::view(path[1]["type"]) == "function");
  CHECK(json::view(path[1]["status"]) == "success");
  CHECK(json::view(path[2]["status"]) == "dispatched");
  CHECK(json::view(path[2]["entity_id"]) == integration);

  // A filtered run stops at the function.
  auto filtered = call("GET", "/api/v1/flows/" + flow + "/history?status=filtered");
  REQUIRE(filtered.json.Size() == 2);
  CHECK(filtered.json[0]["path"].Size() == 2);
  CHECK(json::view(filtered.json[0]["path"][1]["status"]) == "filtered");

  // All flows' history includes these runs; bad ids and filters are refused.
  CHECK(call("GET", "/api/v1/flows/history?dev_eui=" + eui).json.Size() == 4);
  CHECK(call("GET", "/api/v1/flows/" + flow + "/history/00000000-0000-0000-0000-000000000000").status == 404);
  CHECK(call("GET", "/api/v1/flows/" + flow + "/history/not-a-uuid").status == 404);
  CHECK(call("GET", "/api/v1/flows/" + flow + "/history?status=bogus").status == 422);

  // One flow-completed event per run.
  REQUIRE(eventually([&] { return completed.count() == 4; }, std::chrono::seconds(5)));
  auto event = json::parse(completed.messages()[0].data);
  REQUIRE(event.ok());
  CHECK(json::view((*event)["flow_id"]) == flow);
  CHECK(std::string(json::view((*event)["run_key"])).rfind(flow + ":up:", 0) == 0);
}

TEST_CASE("a failing function gives partial_success beside a delivery, and error when it is the only branch") {
  Sink sink;
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto bad = create_function("function f(m) { throw new Error('sensor exploded'); }");
  auto integration = create_http_integration(sink.url());
  auto mixed =
      create_flow({{"t", "device", device, ""}, {"f", "function", bad, ""}, {"i", "integration", integration, ""}},
                  {{"t", "f"}, {"t", "i"}});
  auto failing = create_flow({{"t", "device", device, ""}, {"f", "function", bad, ""}}, {{"t", "f"}});
  REQUIRE(view_has_flows());

  auto r = post_uplink(uplink(eui, unique("up") + "-" + eui, 1, temp(50)));
  REQUIRE(r.status < 300);
  REQUIRE(eventually([&] { return history_count(mixed) == 1 && history_count(failing) == 1; }));
  CHECK(history_count(mixed, "&status=partial_success") == 1);
  CHECK(history_count(failing, "&status=error") == 1);
  auto run = call("GET", "/api/v1/flows/" + failing + "/history");
  REQUIRE(run.json.Size() == 1);
  const auto& step = run.json[0]["path"][1];
  CHECK(json::view(step["status"]) == "error");
  CHECK(std::string(json::view(step["error"])).find("sensor exploded") != std::string::npos);
  // The message itself went straight to the receiver.
  REQUIRE(eventually([&] { return sink.stat("received") == 1; }));
  std::string last(json::view(sink.stats()["last_body"]));
  CHECK(last.find("\"temperature\":50") != std::string::npos);
}

TEST_CASE("asset tracking: a label trigger runs for every device with the label, including one labelled later") {
  Sink sink;
  auto label = created(call("POST", "/api/v1/labels", R"({"name":")" + unique("trackers") + "\"}"));
  std::vector<std::string> euis = {new_eui(), new_eui(), new_eui()};
  std::vector<std::string> devices;
  for (const auto& e : euis) devices.push_back(create_device(e));
  auto fn = create_function(R"(function format(m) {
    return {tracker: m.device.name, dev_eui: m.dev_eui, lat: m.data.lat, lon: m.data.lon,
            labels: m.device.labels.map(l => l.name)};
  })");
  auto integration = create_http_integration(sink.url());
  REQUIRE(after_device_reload([&] {
    for (int i = 0; i < 2; ++i)
      REQUIRE(call("POST", "/api/v1/labels/" + label + "/devices/" + devices[i]).status == 200);
  }));
  auto flow = create_flow({{"l", "label", label, ""}, {"f", "function", fn, ""}, {"i", "integration", integration, ""}},
                          {{"l", "f"}, {"f", "i"}});
  REQUIRE(view_has_flows());

  const std::string position = R"({"lat":48.85,"lon":2.35})";
  for (int i = 0; i < 3; ++i)
    REQUIRE(post_uplink(uplink(euis[i], unique("up") + "-" + euis[i], 1, position)).status < 300);
  REQUIRE(eventually([&] { return history_count(flow) == 2; }));
  REQUIRE(eventually([&] { return sink.stat("received") == 2; }));
  std::string last(json::view(sink.stats()["last_body"]));
  CHECK(last.find("\"lat\":48.85") != std::string::npos);
  CHECK(last.find("trackers") != std::string::npos);

  // The third device joins the label: its next uplink runs the flow, without a restart.
  REQUIRE(after_device_reload(
      [&] { REQUIRE(call("POST", "/api/v1/labels/" + label + "/devices/" + devices[2]).status == 200); }));
  REQUIRE(post_uplink(uplink(euis[2], unique("up") + "-" + euis[2], 2, position)).status < 300);
  REQUIRE(eventually([&] { return history_count(flow) == 3; }));
  REQUIRE(eventually([&] { return sink.stat("received") == 3; }));
  CHECK(call("GET", "/api/v1/flows/history?dev_eui=" + euis[2]).json.Size() == 1);
}

TEST_CASE("while the function runner is down uplinks wait, and run once it is back") {
  Sink sink;
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto fn = create_function(kAlert);
  auto integration = create_http_integration(sink.url());
  auto flow =
      create_flow({{"n1", "device", device, ""}, {"n2", "function", fn, ""}, {"n3", "integration", integration, ""}},
                  {{"n1", "n2"}, {"n2", "n3"}});
  REQUIRE(view_has_flows());

  stack().stop("function-runner");
  double deferred = orchestrator_metric("dm_orchestrator_uplinks_deferred_total");
  REQUIRE(post_uplink(uplink(eui, unique("up") + "-" + eui, 1, temp(45))).status < 300);
  REQUIRE(eventually([&] { return orchestrator_metric("dm_orchestrator_uplinks_deferred_total") > deferred; },
                     std::chrono::seconds(10)));
  CHECK(history_count(flow) == 0);  // not recorded as an error run: nothing ran
  CHECK(sink.stat("received") == 0);

  stack().start("function-runner");
  REQUIRE(stack().wait_ready("function-runner", std::chrono::seconds(30)));
  REQUIRE(eventually([&] { return history_count(flow, "&status=success") == 1; }));
  REQUIRE(eventually([&] { return sink.stat("received") == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(history_count(flow) == 1);
  CHECK(sink.stat("received") == 1);
}

TEST_CASE("after kill -9 of the orchestrator every accepted uplink has exactly one run and one delivery") {
  Sink sink;
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto fn = create_function(kAlert);
  auto integration = create_http_integration(sink.url());
  auto flow =
      create_flow({{"n1", "device", device, ""}, {"n2", "function", fn, ""}, {"n3", "integration", integration, ""}},
                  {{"n1", "n2"}, {"n2", "n3"}});
  REQUIRE(view_has_flows());

  constexpr int kUplinks = 60;  // every one above the threshold: one delivery each
  std::thread poster([&] {
    for (int i = 0; i < kUplinks; ++i)
      REQUIRE(post_uplink(uplink(eui, unique("up") + "-" + eui, i + 1, temp(31 + i))).status < 300);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stack().kill9("flow-orchestrator");
  poster.join();
  stack().start("flow-orchestrator");
  REQUIRE(stack().wait_ready("flow-orchestrator", std::chrono::seconds(30)));

  REQUIRE(eventually([&] { return history_count(flow) == kUplinks; }, std::chrono::seconds(40)));
  REQUIRE(eventually([&] { return sink.stat("received") == kUplinks; }, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(history_count(flow) == kUplinks);
  CHECK(history_count(flow, "&status=success") == kUplinks);
  CHECK(sink.stat("received") == kUplinks);
  CHECK(sink.stat("unique_keys") == kUplinks);
  CHECK(sink.stat("duplicates") == 0);
}
