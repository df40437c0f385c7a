// The original's asset-tracking scenario over MQTT: trackers carry a label, a label-triggered
// flow formats each position and hands it to an MQTT integration; a real subscriber
// (mosquitto_sub) on a real broker receives a formatted position from every tracker.
#include "flow_fixture.hpp"

using namespace dm;
using namespace dm::test;

TEST_CASE("asset tracking over MQTT: a subscriber receives formatted positions from every tracker") {
  testing::Mosquitto broker;
  testing::TempDir dir("dm-trackers");
  const std::string out = dir.path() + "/positions.txt";
  constexpr int kTrackers = 3;

  auto label = created(call("POST", "/api/v1/labels", R"({"name":")" + unique("trackers") + "\"}"));
  std::vector<std::string> euis, devices;
  for (int i = 0; i < kTrackers; ++i) {
    euis.push_back(new_eui());
    devices.push_back(create_device(euis.back()));
  }
  REQUIRE(after_device_reload([&] {
    for (const auto& d : devices) REQUIRE(call("POST", "/api/v1/labels/" + label + "/devices/" + d).status == 200);
  }));
  auto fn = create_function(R"(function position(m) {
    return {tracker: m.dev_eui, position: m.data.lat.toFixed(4) + ',' + m.data.lon.toFixed(4), at: m.time};
  })");
  auto mqtt = created(call("POST", "/api/v1/integrations",
                           R"({"name":")" + unique("mqtt") + R"(","type":"mqtt","config":{"host":"127.0.0.1","port":)" +
                               std::to_string(broker.port()) + R"(,"topic":"trackers/{dev_eui}","qos":1}})"));
  auto flow = create_flow({{"l", "label", label, ""}, {"f", "function", fn, ""}, {"m", "integration", mqtt, ""}},
                          {{"l", "f"}, {"f", "m"}});
  REQUIRE(view_has_flows());

  testing::MqttSubscriber subscriber(broker.port(), "trackers/#", out);

  for (int i = 0; i < kTrackers; ++i) {
    std::string position = R"({"lat":48.)" + std::to_string(1000 + i) + R"(,"lon":2.)" + std::to_string(3000 + i) + "}";
    REQUIRE(post_uplink(uplink(euis[i], unique("up") + "-" + euis[i], 1, position)).status < 300);
  }
  REQUIRE(eventually([&] { return subscriber.lines().size() == kTrackers; }, std::chrono::seconds(20)));
  auto lines = subscriber.lines();
  for (int i = 0; i < kTrackers; ++i) {
    // One line per tracker: "trackers/<dev_eui> {formatted position}".
    std::string expected_topic = "trackers/" + euis[i] + " ";
    std::string expected_position = "\"position\":\"48." + std::to_string(1000 + i) + ",2." + std::to_string(3000 + i);
    bool found = false;
    for (const auto& line : lines)
      found = found || (line.rfind(expected_topic, 0) == 0 && line.find(expected_position) != std::string::npos);
    INFO(out << ":\n" << lines[0]);
    CHECK(found);
  }
  // The dispatcher may deliver before the lane has written the run: history follows shortly.
  CHECK(eventually([&] { return run_count(flow, "&status=success") == kTrackers; }));
}
