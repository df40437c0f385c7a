#pragma once
// The taps: core NATS messages any subscriber may follow (proto/README.md), each announced
// after its producer recorded what it says. See message.hpp for the two flavours of the
// messages produced on hot paths and for the encoding rules.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dm/contract/message.hpp"
#include "dm/contract/words.hpp"
#include "dm/contract/work.hpp"
#include "dm/core/result.hpp"

namespace dm::contract {

// ---- delivery-result: dm.delivery.<target_id>, one per attempt outcome (integration-dispatcher).

template <MessageText Text>
struct BasicDeliveryResult {
  Text job_id;
  std::optional<JobKind> kind;  // omitted when empty
  Text target_id;
  std::optional<Text> flow_id, flow_run_id, node_id, dev_eui;  // omitted when empty
  DeliveryStatus status = DeliveryStatus::failed;
  int attempt = 1;
  std::optional<int> http_status;       // null when empty
  std::optional<Text> error;            // null when empty
  std::optional<Text> next_attempt_at;  // retrying: when; omitted when empty
  double duration_ms = 0;
  Text at;
  bool operator==(const BasicDeliveryResult&) const = default;
};
using DeliveryResult = BasicDeliveryResult<std::string>;
using DeliveryResultRef = BasicDeliveryResult<std::string_view>;

template <MessageText Text>
std::string encode(const BasicDeliveryResult<Text>& result);
Result<DeliveryResult> decode_delivery_result(std::string_view json);

// ---- function-run: dm.function.run.<function_id>, one per recorded execution (flow-orchestrator).

template <MessageText Text>
struct BasicFunctionRun {
  Text run_id;  // the execution id (flow run key + ':' + node id)
  Text function_id;
  std::int64_t version = 1;
  std::optional<Text> flow_id, flow_run_id, node_id, dev_eui;  // null when empty (runs outside a flow)
  ExecStatus status = ExecStatus::error;                       // never unavailable: no run happened then
  double duration_ms = 0;
  std::optional<BasicFnError<Text>> error;  // null when empty
  Text logs;                                // JSON array; empty text = no logs ([])
  std::optional<Text> output;               // JSON object; omitted when empty (keeps the tap small)
  bool replay = false;
  Text at;
  bool operator==(const BasicFunctionRun&) const = default;
};
using FunctionRun = BasicFunctionRun<std::string>;
using FunctionRunRef = BasicFunctionRun<std::string_view>;

template <MessageText Text>
std::string encode(const BasicFunctionRun<Text>& run);
Result<FunctionRun> decode_function_run(std::string_view json);

// ---- flow-completed: dm.flow.completed.<flow_id>, one per recorded flow run (flow-orchestrator).

// One node of a run's path, in execution order.
struct FlowStep {
  std::string node_id;
  std::string type;       // the node's type: device, label, function, integration, storage, ...
  std::string entity_id;  // the definition the node refers to; empty = null (it has none)
  StepStatus status = StepStatus::success;
  double duration_ms = 0;
  std::optional<std::string> error;  // null when empty
  bool operator==(const FlowStep&) const = default;
};
// A path alone (a JSON array), e.g. for the column that keeps it.
std::string encode(std::span<const FlowStep> path);

template <MessageText Text>
struct BasicFlowCompleted {
  Text flow_id;
  std::optional<std::int64_t> flow_version;  // omitted when empty
  Text run_id;
  Text run_key;  // '<flow_id>:<event_type>:<dedup_id>', or '<flow_id>:replay:<dedup_id>:<replay_id>'
  Text dedup_id;
  Text dev_eui;
  RunStatus status = RunStatus::success;
  List<Text, FlowStep> path;
  double duration_ms = 0;
  bool replay = false;
  Text at;
  bool operator==(const BasicFlowCompleted&) const = default;
};
using FlowCompleted = BasicFlowCompleted<std::string>;
using FlowCompletedRef = BasicFlowCompleted<std::string_view>;

template <MessageText Text>
std::string encode(const BasicFlowCompleted<Text>& run);
Result<FlowCompleted> decode_flow_completed(std::string_view json);

// ---- dead-letter: dm.deadletter.<kind>, one per item stored as a dead letter by its owner.

struct DeadLetterEvent {
  DeadLetterKind kind = DeadLetterKind::uplinks;
  std::string id;  // the dead letter's id in its owner's API
  std::string key;
  std::optional<std::string> subject;  // null when empty
  std::string error;
  int attempts = 1;
  std::string at;
  bool operator==(const DeadLetterEvent&) const = default;
};
// key, subject and error come from the refused item and the complaint about it: they are
// written printable (control characters and invalid bytes as \xNN, as the schema says) and
// cut to a few KiB, whatever they hold.
std::string encode(const DeadLetterEvent& event);
Result<DeadLetterEvent> decode_dead_letter(std::string_view json);

// ---- device-state: dm.devstate.<dev_eui>, a connectivity transition (ingest).

struct DeviceStateChange {
  std::string dev_eui;
  std::optional<std::string> device_id;       // null when empty (not registered)
  std::optional<std::string> device_name;     // null when empty
  DeviceState state = DeviceState::online;    // never maintenance (see DeviceState)
  std::optional<DeviceState> previous_state;  // null when empty (the device was not known)
  StateReason reason = StateReason::uplink;
  std::optional<std::string> last_seen_at;  // null when empty
  std::string at;
  bool operator==(const DeviceStateChange&) const = default;
};
std::string encode(const DeviceStateChange& change);
Result<DeviceStateChange> decode_device_state(std::string_view json);

// ---- registry-change: dm.registry.changed.<kind>, after a definition change is committed.

struct Actor {
  std::string user_id;
  std::optional<std::string> role;  // omitted when empty
  bool operator==(const Actor&) const = default;
};

struct RegistryChange {
  RegistryKind kind = RegistryKind::device;
  ChangeAction action = ChangeAction::updated;
  std::string id;
  std::int64_t version = 1;  // after the change; consumers ignore an event not above what they hold
  std::string at;
  // Omitted when empty (the registry sends none of these today).
  std::optional<std::string> name, dev_eui, previous_dev_eui;
  std::optional<Actor> actor;
  bool operator==(const RegistryChange&) const = default;
};
std::string encode(const RegistryChange& change);
Result<RegistryChange> decode_registry_change(std::string_view json);

}  // namespace dm::contract
