#pragma once
// Uplinks through their flows: walks each matching flow from its trigger node (functions via
// the runner on `dm.fn.exec`, integrations and storages as delivery jobs in DM_DISPATCH), and
// fills one run record (run.hpp) per flow.
// Infrastructure failures (runner unreachable, JetStream refusing a job) are errors of the
// whole uplink, which is then handed back for redelivery instead of being recorded as a run.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/core/result.hpp"
#include "dm/json/json.hpp"
#include "run.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {

struct EngineOptions {
  int function_timeout_ms = 1000;                  // timeout_ms sent to the runner per execution
  std::chrono::milliseconds request_margin{2000};  // on top of it, for the NATS request
  std::size_t max_depth = 64;
  std::size_t exec_batch = 64;  // executions per dm.fn.exec request
};

// One flow run to walk: the uplink, the flow and the trigger node it entered by.
struct RunJob {
  const Uplink* uplink = nullptr;
  std::shared_ptr<const Flow> flow;
  std::size_t trigger = 0;
  std::string key;        // the run key; empty = run_key(flow, dedup id) (a replay brings its own)
  bool replay = false;    // recorded, and passed to the runner, as a replay
  Run run;                // filled by Engine::run_all
  bool deferred = false;  // the runner or JetStream was unavailable: nothing recorded, retry later
  std::string deferred_reason;
};

class Engine {
 public:
  Engine(bus::Connection& rpc, bus::Connection& js, EngineOptions options) : rpc_(rpc), js_(js), options_(options) {}
  // Walks every job together, one graph level at a time: a level's function executions go to
  // the runner in batched requests (many in flight), its delivery jobs are published
  // asynchronously in job order (so one device's deliveries enter the stream in arrival order),
  // and the outputs become the next level. Thread-safe: each lane (and each replay) calls it
  // with its own jobs at the same time.
  void run_all(std::vector<RunJob>& jobs);

 private:
  struct State;
  struct Pending;
  struct Requests;
  void start(State& st, std::size_t job);
  void run_level(State& st);
  Requests plan_requests(State& st, const std::vector<Pending>& functions) const;
  void queue_deliveries(State& st, const std::vector<Pending>& deliveries,
                        std::vector<std::optional<Result<bus::PubAck>>>& acks);
  void apply_replies(State& st, std::vector<Pending>& functions, std::pair<std::size_t, std::size_t> range,
                     const Result<bus::Message>& reply);
  void apply_result(State& st, Pending& p, const json::Value& result);
  bus::Connection& rpc_;
  bus::Connection& js_;
  EngineOptions options_;
};

}  // namespace dm::flow_orchestrator
