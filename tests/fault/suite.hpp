#pragma once
// The fault suite: a whole stack under a steady load of uplinks (webhook → label flow →
// function → HTTP or MQTT integration, every history recorded), one fault per case, and a
// ledger of every acknowledged uplink against what reached the receiver and each history
// (ledger.hpp). Each case prints a line "FAULT <case> acked … LOST … DUP … drain … unready …
// pause …" and fails
// on LOST > 0, on DUP > 0, on a history that misses an acknowledged uplink, on a jam (not
// drained within three budgets), or on a drain slower than the outage (the budget: the outage,
// at least 15 s). "drain" is the time from the end of the fault until every uplink acknowledged
// before it had arrived (the load goes on meanwhile, and at least 5 s).
//
//   build/tests/fault/dm-fault            every case (tools/faults runs this)
//   build/tests/fault/dm-fault '[ci]'     the fast subset CI runs (ctest: fault_ci_test)
//   build/tests/fault/dm-fault-cluster    the same on a 3-node NATS cluster with 3 replicas of
//                                         each worker (tools/faults --cluster; CI: '[ci]')
// "unready" is the longest time some service was not ready (down, or not connected to NATS or
// PostgreSQL); "pause" the longest time without a delivery while the load ran.
// DM_FAULT_REPORT=<file> also appends each case's line to that file.
#include <functional>
#include <string>
#include <vector>

#include "dm/testing/testing.hpp"
#include "ledger.hpp"

namespace dm::fault {

inline const std::string kSecret = "fault-suite-ingest-secret-01";

// What the stack of an executable looks like; each executable defines shape().
struct Shape {
  int nats_nodes = 1;  // 3: a JetStream cluster, streams with 3 replicas
  int replicas = 1;    // processes of each worker (orchestrator, runner, dispatcher)
  double rate = 200;   // uplinks per second
};
const Shape& shape();

// One stack, broker, receiver and admin API for the whole run (cases use their own devices,
// flows and receiver path, so they do not see each other's uplinks).
testing::Stack& stack();
testing::Mosquitto& broker();
Receiver& receiver();
Api& api();

// One case's definitions: devices under a label, a pass-through function that keeps the
// uplink's number (or throws an N-byte error for {"boom": N}), an integration (HTTP to the
// receiver's /<tag>, or MQTT to fault/<tag>/<dev_eui>) and the flow label → function →
// integration; returns once an uplink ran through the flow.
struct Scenario {
  std::string tag;
  std::vector<std::string> euis, devices;
  std::string label, function, integration, flow;
  bool mqtt = false;
};
Scenario make_scenario(const std::string& tag, bool mqtt = false);

// Every history must hold every acknowledged uplink; they are written in batches: waits up
// to `timeout` for each.
void check_histories(const Scenario& s, const Load& load, Report& r,
                     std::chrono::seconds timeout = std::chrono::seconds(60));
// How many of `numbers` have not arrived at the case's receiver (HTTP or MQTT).
std::size_t undelivered(const Scenario& s, const std::vector<std::int64_t>& numbers, const std::string& mqtt_file);
// Deliveries per acknowledged uplink, and the duplicates among them.
void count_deliveries(const Scenario& s, const Load& load, Report& r, const std::string& mqtt_file);
void print(const Report& r);

// Runs the load (shape().rate uplinks/s over 20 devices), applies `fault` after 3 s (it returns once
// the fault is over, with the seconds the outage lasted), measures the drain with the load
// going on, stops it, waits for the rest and checks the histories.
Report run_case(const std::string& name, const std::function<double()>& fault, bool mqtt = false);

double seconds_since(Clock::time_point t0);
// Kills (or stops) a service or a replica of one ("flow-orchestrator#2"), starts it again and
// waits until it is ready; returns the seconds that took.
double kill_and_restart(const std::string& service);
double terminate_and_restart(const std::string& service);
// The function runner's V8 worker processes (its children).
std::vector<int> runner_workers();
// Catch2 checks of a report.
void require_ok(const Report& r);

}  // namespace dm::fault
