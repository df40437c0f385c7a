// deploy/local's NATS is not an open back door: it starts the infrastructure of the local
// stack (DM_SKIP_SERVICES=1) on free ports in a temporary data folder and checks that a
// client without (or with wrong) credentials cannot connect, that service users can, and
// that a service cannot publish or subscribe outside its permissions.
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "dm/bus/connection.hpp"
#include "dm/testing/testing.hpp"

namespace {
using namespace std::chrono_literals;

struct LocalInfra {
  dm::testing::TempDir dir{"dm-nats-auth"};
  std::string env;
  int nats_port = dm::testing::free_port();

  LocalInfra() {
    env = "DM_DATA_DIR=" + dir.path() + "/data DM_SKIP_SERVICES=1 NATS_PORT=" + std::to_string(nats_port) +
          " NATS_HTTP_PORT=" + std::to_string(dm::testing::free_port()) +
          " PG_PORT=" + std::to_string(dm::testing::free_port()) +
          " MQTT_PORT=" + std::to_string(dm::testing::free_port());
    auto r = dm::testing::run_command("env " + env + " " + dm::testing::source_dir() + "/deploy/local/up");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  ~LocalInfra() {
    dm::testing::run_command("env " + env + " " + dm::testing::source_dir() + "/deploy/local/down --purge");
  }

  std::string password_of(const std::string& user) const {
    std::ifstream f(dir.path() + "/data/secrets/" + (user == "tap" ? std::string("nats-tap") : user) + ".env");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("NATS_PASSWORD=", 0) == 0) return line.substr(14);
    }
    return {};
  }

  std::shared_ptr<dm::bus::Connection> connect(const std::string& user, const std::string& password) const {
    dm::bus::Options o;
    o.url = "nats://127.0.0.1:" + std::to_string(nats_port);
    o.name = "nats-auth-test";
    o.user = user;
    o.password = password;
    auto c = dm::bus::Connection::connect(o);
    REQUIRE(c.ok());
    return std::move(c).value();
  }
};

bool eventually_connected(dm::bus::Connection& c, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (c.connected()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return c.connected();
}

struct Inbox {
  std::mutex mutex;
  std::set<std::string> subjects;
  void add(const std::string& s) {
    std::lock_guard lock(mutex);
    subjects.insert(s);
  }
  bool has(const std::string& s) {
    std::lock_guard lock(mutex);
    return subjects.count(s) > 0;
  }
};
}  // namespace

TEST_CASE("deploy/local NATS: credentials required, permissions enforced") {
  LocalInfra infra;
  REQUIRE_FALSE(infra.password_of("registry").empty());

  auto anonymous = infra.connect("", "");
  auto wrong = infra.connect("registry", "not-the-password");
  auto registry = infra.connect("registry", infra.password_of("registry"));
  auto ingest = infra.connect("ingest", infra.password_of("ingest"));
  auto gateway = infra.connect("gateway", infra.password_of("gateway"));
  auto tap = infra.connect("tap", infra.password_of("tap"));
  REQUIRE(eventually_connected(*registry, 5s));
  REQUIRE(eventually_connected(*ingest, 5s));
  REQUIRE(eventually_connected(*gateway, 5s));
  REQUIRE(eventually_connected(*tap, 5s));
  CHECK_FALSE(eventually_connected(*anonymous, 1500ms));
  CHECK_FALSE(eventually_connected(*wrong, 500ms));

  // The tap user follows the documented taps.
  Inbox seen;
  auto on = [&seen](dm::bus::Message&& m) { seen.add(std::string(m.subject)); };
  auto s1 = tap->subscribe("dm.device.>", "", on);
  auto s2 = tap->subscribe("dm.registry.changed.>", "", on);
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  // The registry tries to listen in on the gateway's RPC subject: not allowed.
  Inbox stolen;
  auto s3 = registry->subscribe("dm.rpc.gateway", "",
                                [&stolen](dm::bus::Message&& m) { stolen.add(std::string(m.subject)); });
  REQUIRE(tap->flush(2s).ok());
  (void)registry->flush(2s);

  // Allowed publishes arrive...
  REQUIRE(ingest->publish("dm.device.0000000000000002.up", "{}").ok());
  REQUIRE(registry->publish("dm.registry.changed.label", "{}").ok());
  // ...the registry publishing a device event, or the tap user publishing anything, do not.
  (void)registry->publish("dm.device.0000000000000001.up", "{}");
  (void)tap->publish("dm.registry.changed.device", "{}");
  (void)gateway->publish("dm.rpc.gateway", "{}");
  (void)ingest->flush(2s);
  (void)registry->flush(2s);
  (void)tap->flush(2s);
  (void)gateway->flush(2s);

  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline &&
         !(seen.has("dm.device.0000000000000002.up") && seen.has("dm.registry.changed.label"))) {
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(300ms);  // time for anything that should not arrive
  CHECK(seen.has("dm.device.0000000000000002.up"));
  CHECK(seen.has("dm.registry.changed.label"));
  CHECK_FALSE(seen.has("dm.device.0000000000000001.up"));
  CHECK_FALSE(seen.has("dm.registry.changed.device"));
  CHECK_FALSE(stolen.has("dm.rpc.gateway"));
}
