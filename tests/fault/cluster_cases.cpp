// The fault suite on a clustered bus: three nats-server nodes (JetStream, streams with three
// replicas), three processes of each worker service, 300 uplinks/s. One NATS node or one
// replica dies under load; nothing acknowledged may be lost or delivered twice, and deliveries
// must go on. See suite.hpp for what each case checks and prints.
#include <signal.h>

#include <catch2/catch.hpp>

#include "dm/bus/connection.hpp"
#include "dm/contract/streams.hpp"
#include "dm/json/json.hpp"
#include "suite.hpp"

using namespace dm;
using namespace dm::fault;
using namespace std::chrono_literals;

const Shape& dm::fault::shape() {
  static const Shape cluster{.nats_nodes = 3, .replicas = 3, .rate = 300};
  return cluster;
}

namespace {

// How long a killed node stays down: long enough that the cluster must go on without it (a
// new leader is elected within a few seconds), short enough for CI.
constexpr auto kNodeDown = 10s;

// The node leading `stream` now (its Raft leader takes every write), asked of the cluster.
int stream_leader(const std::string& stream) {
  bus::Options o;
  o.url = stack().nats_cluster().urls();
  o.name = "fault-suite";
  auto conn = bus::Connection::connect(o);
  if (!conn) throw std::runtime_error(conn.error().message);
  std::string leader;
  wait_until(
      [&] {
        auto reply = (*conn)->request("$JS.API.STREAM.INFO." + stream, "", 2s);
        if (!reply) return false;
        auto doc = json::parse(reply->data);
        const json::Value* cluster = doc && doc->IsObject() ? json::find(*doc, "cluster") : nullptr;
        const json::Value* name = cluster && cluster->IsObject() ? json::find(*cluster, "leader") : nullptr;
        if (!name || !name->IsString()) return false;
        leader = std::string(json::view(*name));
        return true;
      },
      20s, 250ms);
  for (int i = 0; i < stack().nats_cluster().size(); ++i)
    if (stack().nats_cluster().node(i).server_name() == leader) return i;
  throw std::runtime_error("no leader for stream " + stream);
}

double node_down(int node) {
  auto t0 = Clock::now();
  auto& server = stack().nats_cluster().node(node);
  server.kill9();
  std::this_thread::sleep_for(kNodeDown);
  server.start();
  return seconds_since(t0);
}

}  // namespace

// --- NATS nodes ------------------------------------------------------------------------------------

TEST_CASE("kill -9 of the NATS node leading the device-event stream, under load", "[ci][nats]") {
  require_ok(run_case("kill-stream-leader", [] { return node_down(stream_leader(contract::kDeviceEventsStream)); }));
}

TEST_CASE("kill -9 of a NATS node following the device-event stream, under load", "[nats]") {
  require_ok(run_case("kill-stream-follower", [] {
    int leader = stream_leader(contract::kDeviceEventsStream);
    return node_down((leader + 1) % stack().nats_cluster().size());
  }));
}

// --- service replicas ------------------------------------------------------------------------------
// The killed replica comes back as an orchestrator (Kubernetes, systemd) would bring it back;
// meanwhile the other two carry the load, and what the dead one held is redelivered after the
// ack wait (5 s here).

TEST_CASE("kill -9 of one flow-orchestrator replica of three, under load", "[replica]") {
  require_ok(run_case("kill-orchestrator-1of3", [] { return kill_and_restart("flow-orchestrator#2"); }));
}

TEST_CASE("kill -9 of one function-runner replica of three, under load", "[replica]") {
  require_ok(run_case("kill-runner-1of3", [] { return kill_and_restart("function-runner#2"); }));
}

TEST_CASE("kill -9 of one integration-dispatcher replica of three, under load", "[replica]") {
  require_ok(run_case("kill-dispatcher-1of3", [] { return kill_and_restart("integration-dispatcher#2"); }));
}

TEST_CASE("SIGTERM of one replica of each worker (scale-down drain), under load", "[replica]") {
  require_ok(run_case("sigterm-replicas", [] {
    auto t0 = Clock::now();
    for (const char* s : {"flow-orchestrator#3", "function-runner#3", "integration-dispatcher#3"}) {
      terminate_and_restart(s);
      std::this_thread::sleep_for(1s);
    }
    return seconds_since(t0);
  }));
}
