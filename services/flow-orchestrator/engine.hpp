#pragma once
// One uplink through its flows: builds the function input message, walks each matching
// flow from its trigger node (functions via the runner on `dm.fn.exec`, integrations and
// storages as delivery jobs in DM_DISPATCH), and returns one run record per flow.
// Infrastructure failures (runner unreachable, JetStream refusing a job) are errors of the
// whole uplink, which is then handed back for redelivery instead of being recorded as a run.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/core/result.hpp"
#include "dm/json/json.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {

struct Step {
  std::string node_id;
  std::string type;
  std::string entity_id;
  std::string status;  // success | error | filtered | timeout | dispatched
  double duration_ms = 0;
  std::optional<std::string> error;
};

// One function execution of a run, as the runner answered it. Recorded in the function
// history (GET /api/v1/functions[/{id}]/history) in the same transaction as its run.
struct FunctionRun {
  std::string run_id;  // "<run key>:<node id>": a repeated execution is recorded once
  std::string function_id;
  std::int64_t version = 1;
  std::string node_id;
  std::string status;  // success | filtered | error | timeout
  std::string input;   // the message the function got (JSON object)
  std::optional<std::string> output, error;  // JSON texts
  std::string logs = "[]";
  double duration_ms = 0;
};

struct Run {
  std::string run_key;  // "<flow_id>:up:<dedup_id>"
  std::string flow_id;
  std::int64_t flow_version = 0;
  std::string dedup_id;
  std::string dev_eui;
  std::string device_id;
  std::string trigger_node;
  std::string status;  // success | partial_success | error | filtered
  std::vector<Step> path;
  std::vector<FunctionRun> functions;  // the executions along the path
  double duration_ms = 0;
  bool replay = false;
  std::string at;  // RFC 3339
};

// The uplink as the orchestrator needs it.
struct Uplink {
  std::string dev_eui;
  std::string device_id;  // from the event, may be empty
  std::string dedup_id;
  std::string message;  // the function input message (JSON object)
};

// From a device event (proto/schemas/device-event.schema.json) and the cached device (may be null).
Result<Uplink> read_uplink(std::string_view event_json, const View& view);
std::string build_message(const json::Value& event, const Device* device);

// The flow-completed event (proto/schemas/flow-completed.schema.json) and the path as JSON.
std::string completed_json(const Run& run);
std::string path_json(const std::vector<Step>& path);
std::string run_key(const std::string& flow_id, const std::string& dedup_id);

// success when no branch failed and some branch ended with an output or a delivery (or the
// trigger has no edges); filtered when every branch was filtered; error when every ending
// branch failed; partial_success otherwise.
std::string run_status(int ok, int filtered, int failed);

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
