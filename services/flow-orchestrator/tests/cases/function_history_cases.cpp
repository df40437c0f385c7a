// Function history is recorded by the orchestrator with the flow run each execution belongs
// to, and served through the gateway: every execution of a flow, with its input, output, logs
// and error, filtered by status, newest first; announced on dm.function.run.<id>.
#include "flow_fixture.hpp"

using namespace dm;
using namespace dm::test;

TEST_CASE("function history: each execution of a flow with its input, output, logs and error") {
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto fn = create_function(
      "function process(m) { console.log('t=' + m.data.t); if (m.data.t > 50) throw new Error('too hot');"
      " return {t: m.data.t}; }");
  auto flow = create_flow({{"t", "device", device, ""}, {"f", "function", fn, ""}}, {{"t", "f"}});
  REQUIRE(view_has_flows());
  Listener tapped("dm.function.run." + fn);
  REQUIRE(post_uplink(uplink(eui, unique("fh") + "-" + eui, 1, R"({"t":20})")).status < 300);
  REQUIRE(post_uplink(uplink(eui, unique("fh") + "-" + eui, 2, R"({"t":90})")).status < 300);

  Reply h;
  REQUIRE(eventually([&] {
    h = call("GET", "/api/v1/functions/" + fn + "/history");
    return h.status == 200 && h.json.IsArray() && h.json.Size() == 2;
  }));
  CHECK(h.headers.get("X-Total-Count") == std::optional<std::string>("2"));
  const auto& failed = h.json[0];  // newest first
  const auto& ok = h.json[1];
  CHECK(std::string(json::view(ok["status"])) == "success");
  CHECK(ok["output"]["t"].GetInt() == 20);
  CHECK(ok["input"]["data"]["t"].GetInt() == 20);
  CHECK(ok["version"].GetInt64() >= 1);
  CHECK(std::string(json::view(ok["flow_id"])) == flow);
  CHECK(std::string(json::view(ok["logs"][0]["message"])) == "t=20");
  CHECK(std::string(json::view(failed["status"])) == "error");
  CHECK(std::string(json::view(failed["error"]["message"])).find("too hot") != std::string::npos);
  CHECK(failed["output"].IsNull());
  CHECK(call("GET", "/api/v1/functions/" + fn + "/history?status=error").json.Size() == 1);
  CHECK(call("GET", "/api/v1/functions/history?status=nonsense").status == 422);
  REQUIRE(tapped.wait_for(2));
}

// function_runs has no key of its own: an execution is kept from being stored twice only by
// its flow run's run_key, in the same transaction. Ingest forgets the events it stored when it
// restarts, so the same uplink posted again is stored again and the orchestrator runs it again.
TEST_CASE("function history: an uplink stored twice upstream is recorded once") {
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto fn = create_function("function process(m) { return {t: m.data.t}; }");
  auto flow = create_flow({{"t", "device", device, ""}, {"f", "function", fn, ""}}, {{"t", "f"}});
  REQUIRE(view_has_flows());
  const std::string again = uplink(eui, unique("twice") + "-" + eui, 1, R"({"t":1})");
  REQUIRE(post_uplink(again).status < 300);
  auto runs = [&](const std::string& path) {
    auto r = call("GET", path);
    return r.status == 200 ? r.headers.get("X-Total-Count").value_or("") : std::string("?");
  };
  REQUIRE(eventually([&] { return runs("/api/v1/functions/" + fn + "/history") == "1"; }));

  stack().stop("ingest");
  stack().start("ingest");
  REQUIRE(stack().wait_ready("ingest", std::chrono::seconds(30)));
  auto second = post_uplink(again);
  REQUIRE(second.status < 300);
  const auto* duplicate = json::find(second.json, "duplicate");
  REQUIRE(duplicate);
  REQUIRE(duplicate->IsFalse());  // stored again: the scenario under test happened
  // A later uplink of the same device runs after the repeated one (per-device order): once it
  // is recorded, so is whatever the repeat left.
  REQUIRE(post_uplink(uplink(eui, unique("after") + "-" + eui, 2, R"({"t":2})")).status < 300);
  REQUIRE(eventually([&] { return runs("/api/v1/functions/" + fn + "/history") == "2"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(runs("/api/v1/functions/" + fn + "/history") == "2");
  CHECK(runs("/api/v1/flows/" + flow + "/history") == "2");
}
