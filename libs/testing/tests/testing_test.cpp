#include "dm/testing/testing.hpp"

#include <catch2/catch.hpp>
#include <set>

using namespace dm::testing;

TEST_CASE("test fixtures start real servers on free ports and stop them") {
  NatsServer nats;
  REQUIRE(wait_for_port(nats.port(), std::chrono::seconds(1)));
  PgCluster pg;
  auto r = pg.psql("postgres", "SELECT 40 + 2");
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.output.find("42") != std::string::npos);
  Mosquitto mqtt;
  REQUIRE(wait_for_port(mqtt.port(), std::chrono::seconds(1)));
  nats.stop();
  REQUIRE_FALSE(wait_for_port(nats.port(), std::chrono::milliseconds(200)));
}

TEST_CASE("free_port never gives the same port twice") {
  std::set<int> ports;
  for (int i = 0; i < 300; ++i) REQUIRE(ports.insert(dm::testing::free_port()).second);
}

TEST_CASE("an MQTT subscriber is subscribed when it is made, and its lines leave the probe out") {
  Mosquitto broker;
  TempDir dir("dm-mqtt-sub");
  MqttSubscriber sub(broker.port(), "t/#", dir.path() + "/sub.txt");
  // Published right away, once: a subscriber still connecting would miss it.
  auto sent = run_command("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) + " -t t/x -m hello");
  REQUIRE(sent.exit_code == 0);
  REQUIRE(eventually([&] { return !sub.lines().empty(); }, std::chrono::seconds(5)));
  REQUIRE(sub.lines() == std::vector<std::string>{"t/x hello"});
  REQUIRE(read_text(sub.path()).find("dm-probe/") != std::string::npos);  // the probe came through
}
