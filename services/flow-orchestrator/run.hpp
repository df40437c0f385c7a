#pragma once
// A flow run as it is recorded and announced: its steps, its function executions, and the
// uplink it ran for (read from the device event into the message functions get).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dm/core/result.hpp"
#include "dm/json/json.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {

struct Step {
  std::string node_id;
  std::string type;
  std::string entity_id;
  std::string status;  // success | error | filtered | timeout | dispatched (| skipped)
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
  std::string status;                        // success | filtered | error | timeout
  std::string input;                         // the message the function got (JSON object)
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
// One step's members into an object the caller opened (and closes: a simulation adds more).
void write_step(json::Writer& w, const Step& step);
std::string run_key(const std::string& flow_id, const std::string& dedup_id);

// success when no branch failed and some branch ended with an output or a delivery (or the
// trigger has no edges); filtered when every branch was filtered; error when every ending
// branch failed; partial_success otherwise.
std::string run_status(int ok, int filtered, int failed);

}  // namespace dm::flow_orchestrator
