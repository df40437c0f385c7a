// POST /api/v1/flows/{id}/simulate: functions run, integrations are not called, nothing is
// recorded; works on a disabled flow; bad input is refused.
#include "flow_fixture.hpp"

using namespace dm;
using namespace dm::test;

namespace {

const char* kAlert = R"(function process(m, p) {
  console.log('checking', m.data.temperature);
  if (m.data.temperature <= p.threshold) return null;
  return {alert: 'temperature', device: m.device.name, temperature: m.data.temperature, bytes: m.payload.bytes};
})";

std::string step_field(const json::Value& step, const char* key) {
  const auto* v = json::find(step, key);
  return v && v->IsString() ? std::string(json::view(*v)) : std::string();
}

}  // namespace

TEST_CASE("simulate runs a disabled flow's functions, skips its integration and records nothing") {
  Sink sink;
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto fn = create_function(kAlert);
  auto integration = create_http_integration(sink.url());
  auto flow = create_flow({{"t", "device", device, ""},
                           {"f", "function", fn, R"({"threshold":30})"},
                           {"i", "integration", integration, ""}},
                          {{"t", "f"}, {"f", "i"}}, /*enabled=*/false);
  const std::string target = "/api/v1/flows/" + flow + "/simulate";

  // The simple shape: the decoded uplink as `data`.
  auto hot = call("POST", target, R"({"dev_eui":")" + eui + R"(","data":{"temperature":35.5},"f_port":2})");
  INFO(hot.body);
  REQUIRE(hot.status == 200);
  CHECK(hot.str("flow_id") == flow);
  CHECK(hot.str("status") == "success");
  CHECK(hot.str("trigger_node") == "t");
  CHECK(hot.json["simulation"].GetBool());
  const auto& path = hot.json["path"];
  REQUIRE(path.Size() == 3);
  CHECK(step_field(path[0], "status") == "success");
  CHECK(json::to_string(path[0]["output"]).find("\"temperature\":35.5") != std::string::npos);
  CHECK(step_field(path[1], "status") == "success");
  CHECK(step_field(path[1]["output"], "alert") == "temperature");
  CHECK(path[1]["logs"].Size() == 1);
  CHECK(step_field(path[2], "status") == "skipped");
  CHECK(step_field(path[2], "entity_id") == integration);
  CHECK(step_field(path[2]["output"], "alert") == "temperature");  // what it would have received
  CHECK(path[2]["error"].IsNull());

  // Below the threshold the function filters it.
  auto cold = call("POST", target, R"({"dev_eui":")" + eui + R"(","data":{"temperature":20}})");
  REQUIRE(cold.status == 200);
  CHECK(cold.str("status") == "filtered");
  CHECK(cold.json["path"].Size() == 2);

  // A normalised device event (as in device history): `object` decoded, `data` base64.
  auto event = call("POST", target,
                    R"({"event_type":"up","dev_eui":")" + eui +
                        R"(","dedup_id":"x","object":{"temperature":40},"data":"AQID","f_port":2,"f_cnt":7})");
  INFO(event.body);
  REQUIRE(event.status == 200);
  CHECK(event.str("status") == "success");
  CHECK(json::to_string(event.json["path"][1]["output"]).find("\"bytes\":[1,2,3]") != std::string::npos);

  // By device id instead of DevEUI: the registered device's name reaches the function.
  auto by_id = call("POST", target, R"({"device_id":")" + device + R"(","data":{"temperature":50}})");
  REQUIRE(by_id.status == 200);
  CHECK(by_id.str("dev_eui") == eui);
  CHECK_FALSE(step_field(by_id.json["path"][1]["output"], "device").empty());
  // A device id nobody registered is refused, not simulated as an anonymous device.
  auto stranger = call("POST", target, R"({"device_id":"00000000-0000-4000-8000-000000000000","data":{}})");
  CHECK(stranger.status == 404);

  // Nothing was recorded, delivered or published as function history.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // the runner writes history every 250 ms
  CHECK(run_count(flow) == 0);
  CHECK(sink.stat("received") == 0);
  auto fn_history = call("GET", "/api/v1/functions/" + fn + "/history");
  REQUIRE(fn_history.status == 200);
  CHECK(fn_history.json.Size() == 0);
}

TEST_CASE("simulate reports a failing function and refuses unknown flows and bad samples") {
  std::string eui = new_eui();
  auto device = create_device(eui);
  auto bad = create_function("function f(m) { throw new Error('decoder broke'); }");
  auto flow = create_flow({{"t", "device", device, ""}, {"f", "function", bad, ""}}, {{"t", "f"}}, false);
  auto failed = call("POST", "/api/v1/flows/" + flow + "/simulate", R"({"data":{}})");
  INFO(failed.body);
  REQUIRE(failed.status == 200);
  CHECK(failed.str("status") == "error");
  CHECK(step_field(failed.json["path"][1], "error").find("decoder broke") != std::string::npos);

  CHECK(call("POST", "/api/v1/flows/00000000-0000-0000-0000-000000000000/simulate", R"({"data":{}})").status == 404);
  CHECK(call("POST", "/api/v1/flows/not-a-flow/simulate", R"({"data":{}})").status == 404);
  const std::string target = "/api/v1/flows/" + flow + "/simulate";
  CHECK(call("POST", target, "[1]").status == 422);
  CHECK(call("POST", target, "{").status == 422);
  CHECK(call("POST", target, "{}").status == 422);                                    // no uplink
  CHECK(call("POST", target, R"({"data":5})").status == 422);                         // neither shape
  CHECK(call("POST", target, R"({"dev_eui":"xyz","data":{}})").status == 422);        // bad DevEUI
  CHECK(call("POST", target, R"({"data":{},"f_port":999})").status == 422);           // out of range
  CHECK(call("POST", target, R"({"event_type":"join","object":{}})").status == 422);  // not an uplink
  auto detail = call("POST", target, R"({"dev_eui":"xyz","data":{}})");
  CHECK(detail.body.find("dev_eui") != std::string::npos);
}
