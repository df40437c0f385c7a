// Pure parts of the orchestrator: reading the registry's view, the function input message,
// run status rules, and the flow-completed event.
#include <catch2/catch.hpp>

#include "dm/json/json.hpp"
#include "engine.hpp"
#include "view.hpp"

using namespace dm;
using namespace dm::flow_orchestrator;

TEST_CASE("flows from the registry's internal view become indexed graphs") {
  auto flows = parse_flows(R"([
    {"id":"f1","name":"a","enabled":true,"version":3,
     "nodes":[{"id":"t","type":"device","entity_id":"d1","parameters":null,"label":""},
              {"id":"fn","type":"function","entity_id":"x","parameters":{"threshold":30},"label":""},
              {"id":"i","type":"integration","entity_id":"i1","parameters":null,"label":""}],
     "edges":[{"id":"e1","source":"t","target":"fn"},{"id":"e2","source":"fn","target":"i"},
              {"id":"bad","source":"t","target":"nowhere"}]},
    {"id":"f2","name":"off","enabled":false,"version":1,"nodes":[],"edges":[]}])");
  REQUIRE(flows.ok());
  REQUIRE(flows->size() == 1);  // disabled flows are left out
  const Flow& f = *(*flows)[0];
  CHECK(f.version == 3);
  REQUIRE(f.nodes.size() == 3);
  CHECK(f.nodes[0].next == std::vector<std::size_t>{1});  // the dangling edge is ignored
  CHECK(f.nodes[1].parameters == R"({"threshold":30})");
  CHECK(f.nodes[2].parameters == "{}");
  CHECK_FALSE(parse_flows("{}").ok());
  CHECK_FALSE(parse_flows("not json").ok());
}

TEST_CASE("devices keep their label ids") {
  auto devices = parse_devices(
      R"([{"id":"d1","dev_eui":"0004a30b001c0530","name":"n","labels":[{"id":"l1","name":"trackers"}]},{"id":"x"}])");
  REQUIRE(devices.ok());
  REQUIRE(devices->size() == 1);  // without a dev_eui a device cannot receive uplinks
  CHECK((*devices)[0].label_ids == std::vector<std::string>{"l1"});
  CHECK((*devices)[0].labels_json == R"([{"id":"l1","name":"trackers"}])");
}

TEST_CASE("the function input message follows the runner's convention") {
  auto event = json::parse(R"({"event_type":"up","dev_eui":"0004a30b001c0530","device_id":"d1","device_name":"dn",
    "dedup_id":"k","time":"2026-11-27T10:00:00Z","f_port":2,"f_cnt":7,"data":"AQID","object":{"temperature":21.5},
    "rssi":-40,"snr":9.5,"gateway_count":1})");
  REQUIRE(event.ok());
  Device d{"d1", "0004a30b001c0530", "greenhouse", {"l1"}, R"([{"id":"l1","name":"trackers"}])"};
  auto msg = json::parse(build_message(*event, &d));
  REQUIRE(msg.ok());
  CHECK(json::view((*msg)["device"]["name"]) == "greenhouse");
  CHECK((*msg)["device"]["labels"].Size() == 1);
  CHECK(json::view((*msg)["event"]) == "up");
  CHECK((*msg)["data"]["temperature"].GetDouble() == 21.5);
  CHECK(json::view((*msg)["payload"]["base64"]) == "AQID");
  REQUIRE((*msg)["payload"]["bytes"].Size() == 3);
  CHECK((*msg)["payload"]["bytes"][2].GetInt() == 3);
  CHECK((*msg)["rx"]["gateways"].GetInt() == 1);
  CHECK((*msg)["f_cnt"].GetInt() == 7);

  // Unknown device, no decoded object: the event's own fields, data {}.
  auto bare = json::parse(R"({"dev_eui":"0004a30b001c0531","dedup_id":"k","received_at":"2026-11-27T10:00:00Z"})");
  auto m2 = json::parse(build_message(*bare, nullptr));
  REQUIRE(m2.ok());
  CHECK((*m2)["device"]["id"].IsNull());
  CHECK((*m2)["data"].IsObject());
  CHECK((*m2)["data"].ObjectEmpty());
  CHECK(json::view((*m2)["time"]) == "2026-11-27T10:00:00Z");
  CHECK((*m2)["payload"]["bytes"].Empty());
}

TEST_CASE("run status from the branch endings") {
  CHECK(run_status(0, 0, 0) == "success");  // a trigger without edges
  CHECK(run_status(2, 0, 0) == "success");
  CHECK(run_status(1, 1, 0) == "success");
  CHECK(run_status(0, 2, 0) == "filtered");
  CHECK(run_status(1, 0, 1) == "partial_success");
  CHECK(run_status(0, 1, 1) == "partial_success");
  CHECK(run_status(0, 0, 2) == "error");
}

TEST_CASE("the flow-completed event has the schema's fields") {
  Run r;
  r.run_key = run_key("f1", "dd");
  r.flow_id = "f1";
  r.flow_version = 2;
  r.dedup_id = "dd";
  r.dev_eui = "0004a30b001c0530";
  r.status = "success";
  r.at = "2026-11-27T10:00:00Z";
  r.path.push_back({"n1", "device", "d1", "success", 0, std::nullopt});
  r.path.push_back({"n2", "function", "x", "error", 1.5, std::string("boom")});
  auto doc = json::parse(completed_json(r));
  REQUIRE(doc.ok());
  CHECK(json::view((*doc)["run_key"]) == "f1:up:dd");
  CHECK(json::view((*doc)["run_id"]) == "f1:up:dd");
  CHECK((*doc)["path"].Size() == 2);
  CHECK((*doc)["path"][0]["error"].IsNull());
  CHECK(json::view((*doc)["path"][1]["error"]) == "boom");
  CHECK((*doc)["replay"].IsBool());
}
