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
