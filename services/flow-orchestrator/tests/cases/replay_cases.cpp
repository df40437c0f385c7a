// POST /api/v1/devices/{id}/history/{history_id}/replay: a stored uplink runs again through the
// device's current flows as a new run marked replay, delivered again; bad ids and non-uplinks
// are refused.
#include "flow_fixture.hpp"

using namespace dm;
using namespace dm::test;

namespace {

// The device's history entries of one type (ingest writes them in batches: wait for them).
std::string history_id(const std::string& device, const std::string& type) {
  std::string id;
  REQUIRE(eventually([&] {
    auto r = call("GET", "/api/v1/devices/" + device + "/history?event_type=" + type);
    if (r.status != 200 || r.json.Size() == 0) return false;
    id = std::string(json::view(r.json[0]["id"]));
    return true;
  }));
  return id;
}

}  // namespace

TEST_CASE("replay runs a stored uplink again through the device's current flows, as a new run") {
  Sink sink;
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto fn = create_function("function f(m) { return {t: m.data.temperature, replayed: true}; }");
  auto integration = create_http_integration(sink.url());
  auto flow =
      create_flow({{"t", "device", device, ""}, {"f", "function", fn, ""}, {"i", "integration", integration, ""}},
                  {{"t", "f"}, {"f", "i"}});
  REQUIRE(view_has_flows());
  std::string dedup = unique("up") + "-" + eui;
  REQUIRE(post_uplink(uplink(eui, dedup, 1, R"({"temperature":21})")).status < 300);
  REQUIRE(eventually([&] { return run_count(flow) == 1 && sink.stat("received") == 1; }));
  auto up = history_id(device, "up");

  const std::string target = "/api/v1/devices/" + device + "/history/" + up + "/replay";
  auto replayed = call("POST", target);
  INFO(replayed.body);
  REQUIRE(replayed.status == 200);
  REQUIRE(replayed.json.IsArray());
  REQUIRE(replayed.json.Size() == 1);
  const auto& run = replayed.json[0];
  CHECK(json::view(run["flow_id"]) == flow);
  CHECK(run["replay"].GetBool());
  CHECK(json::view(run["status"]) == "success");
  CHECK(json::view(run["dedup_id"]) == dedup);
  CHECK(std::string(json::view(run["run_key"])).rfind(flow + ":replay:" + dedup + ":", 0) == 0);
  CHECK(run["path"].Size() == 3);

  // A new run beside the original, and a new delivery; replaying again makes another.
  CHECK(run_count(flow) == 2);
  REQUIRE(call("POST", target).status == 200);
  CHECK(run_count(flow) == 3);
  REQUIRE(eventually([&] { return sink.stat("received") == 3; }));
  CHECK(sink.stat("unique_keys") == 3);
  std::string last(json::view(sink.stats()["last_body"]));
  CHECK(last.find("\"replayed\":true") != std::string::npos);

  // Unknown or malformed ids.
  const std::string none = "00000000-0000-0000-0000-000000000000";
  CHECK(call("POST", "/api/v1/devices/" + device + "/history/" + none + "/replay").status == 404);
  CHECK(call("POST", "/api/v1/devices/" + none + "/history/" + up + "/replay").status == 404);
  CHECK(call("POST", "/api/v1/devices/" + device + "/history/nope/replay").status == 404);
  // Another device's entry is not this device's.
  std::string other;
  REQUIRE(after_device_reload([&] { other = create_device(new_eui()); }));
  CHECK(call("POST", "/api/v1/devices/" + other + "/history/" + up + "/replay").status == 404);
  CHECK(run_count(flow) == 3);
}

TEST_CASE("replaying an event that is not an uplink is refused") {
  std::string eui = new_eui();
  std::string device;
  REQUIRE(after_device_reload([&] { device = create_device(eui); }));
  std::string join = R"({"deduplicationId":")" + unique("join") + R"(","time":"2026-11-27T10:00:00+00:00",)" +
                     R"("deviceInfo":{"tenantId":"t","tenantName":"T","applicationId":"a","applicationName":"A",)" +
                     R"("deviceProfileId":"p","deviceProfileName":"P","deviceName":"d","devEui":")" + eui +
                     R"(","tags":{}},"devAddr":"00189440"})";
  auto posted = post_event("join", join);
  INFO(posted.body);
  REQUIRE(posted.status < 300);
  auto id = history_id(device, "join");
  auto r = call("POST", "/api/v1/devices/" + device + "/history/" + id + "/replay");
  INFO(r.body);
  CHECK(r.status == 409);
}
