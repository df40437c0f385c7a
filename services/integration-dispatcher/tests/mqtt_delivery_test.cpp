// MQTT deliveries to a real mosquitto, read back by a real mosquitto_sub; the broker stopped
// for 30 s loses nothing; the circuit breaker shows the integration in error meanwhile and
// lets it resume by itself.
#include <fstream>
#include <iterator>

#define DM_DISPATCH_STACK_ENV \
  {"DISPATCHER_MAX_ATTEMPTS", "20"}, {"DISPATCHER_BREAKER_THRESHOLD", "3"}, { "DISPATCHER_BREAKER_COOLDOWN", "3s" }
#include "dispatch_fixture.hpp"

using namespace dm;
using namespace dm::test;

namespace {

testing::Mosquitto& broker() {
  static testing::Mosquitto m;
  return m;
}

// Lines received by a mosquitto_sub writing `-v` output (topic and payload) to `path`.
std::size_t lines(const std::string& path) { return testing::count_in_file(path, "\n"); }

std::unique_ptr<testing::Process> subscribe(const std::string& path, int count) {
  auto p = std::make_unique<testing::Process>(
      std::vector<std::string>{"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker().port()), "-t", "dm/#",
                               "-q", "2", "-v", "-C", std::to_string(count)},
      std::map<std::string, std::string>{}, path);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // subscribed before anything is published
  return p;
}

std::int64_t delivered(const std::string& id) {
  auto r = call("GET", "/api/v1/integrations/" + id + "/history?status=delivered&limit=1000");
  REQUIRE(r.status == 200);
  return static_cast<std::int64_t>(r.json.Size());
}

std::string mqtt_config(int qos, const std::string& topic = "dm/{dev_eui}/{flow_id}") {
  return R"({"host":"127.0.0.1","port":)" + std::to_string(broker().port()) + R"(,"topic":")" + topic + R"(","qos":)" +
         std::to_string(qos) + "}";
}

}  // namespace

TEST_CASE("MQTT QoS 0, 1 and 2 deliveries reach a subscriber") {
  testing::TempDir dir("dm-mqtt");
  std::string out = dir.path() + "/sub.txt";
  auto sub = subscribe(out, 5);
  auto q0 = create("integrations", "mqtt", mqtt_config(0));
  auto q1 = create("integrations", "mqtt", mqtt_config(1));
  auto q2 = create("integrations", "mqtt", mqtt_config(2));
  publish_job("mq-0", "integration", q0);
  for (int i = 0; i < 3; ++i) publish_job("mq-1-" + std::to_string(i), "integration", q1);
  publish_job("mq-2", "integration", q2);
  REQUIRE(eventually([&] { return lines(out) >= 5; }));
  std::ifstream in(out);
  std::string first;
  std::getline(in, first);
  CHECK(first.rfind("dm/0004a30b001c0530/flow-1 {", 0) == 0);
  REQUIRE(eventually([&] { return delivered(q0) == 1 && delivered(q1) == 3 && delivered(q2) == 1; }));
}

TEST_CASE("the broker stopped for 30 seconds and started again: nothing lost, status error then active") {
  auto id = create("integrations", "mqtt", mqtt_config(1, "dm/outage"));
  publish_job("outage-warmup", "integration", id);
  REQUIRE(eventually([&] { return delivered(id) == 1; }));

  broker().stop();
  for (int i = 0; i < 5; ++i) publish_job("outage-" + std::to_string(i), "integration", id);
  // Consecutive failures open the circuit breaker: the registry shows the integration in error.
  REQUIRE(eventually([&] { return call("GET", "/api/v1/integrations/" + id).str("status") == "error"; }));
  CHECK_FALSE(call("GET", "/api/v1/integrations/" + id).str("last_error").empty());
  std::this_thread::sleep_for(std::chrono::seconds(28));
  testing::TempDir dir("dm-mqtt");
  std::string out = dir.path() + "/sub.txt";
  broker().start();
  REQUIRE(testing::wait_for_port(broker().port(), std::chrono::seconds(10)));
  auto sub = subscribe(out, 5);
  REQUIRE(eventually([&] { return delivered(id) == 6; }, std::chrono::seconds(60)));
  CHECK(eventually([&] { return lines(out) >= 5; }));
  CHECK(call("GET", "/api/v1/integrations/" + id + "/dead-letters").json.Size() == 0);
  CHECK(eventually([&] { return call("GET", "/api/v1/integrations/" + id).str("status") == "active"; }));
}
