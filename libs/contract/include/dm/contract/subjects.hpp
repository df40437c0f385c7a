#pragma once
// Every NATS subject Device Manager uses (proto/README.md is the catalogue), built in one
// place. Services never spell a subject themselves.
//
// Identity on the bus is the NATS user. A subject only one service may publish to carries
// that service's identity (NATS permissions, deploy/local/nats_users.sh): RPC requests are
// sent on dm.rpc.<owner>.<caller>, which only <caller> may publish to, so the owner knows who
// asks from the subject alone — never from a header.
#include <string>
#include <string_view>

namespace dm::contract {

// The services: NATS user names, queue groups, RPC owner and caller names.
inline constexpr std::string_view kGateway = "gateway";
inline constexpr std::string_view kIngest = "ingest";
inline constexpr std::string_view kRegistry = "registry";
inline constexpr std::string_view kOrchestrator = "flow-orchestrator";
inline constexpr std::string_view kRunner = "function-runner";
inline constexpr std::string_view kDispatcher = "integration-dispatcher";
inline constexpr std::string_view kServices[] = {kGateway, kIngest, kRegistry, kOrchestrator, kRunner, kDispatcher};

namespace subject {

// Device events, one per event: the tap dm.device.<dev_eui>.<event> (core NATS, once stored).
std::string device_event(std::string_view dev_eui, std::string_view event);
inline constexpr const char* kDeviceEvents = "dm.device.>";
inline constexpr const char* kUplinks = "dm.device.*.up";
// Device-event batches (stream DM_DEVICE_EVENTS): dm.events.<event>, the events of one type
// that ingest stored together (contract::BatchWriter).
std::string event_batch(std::string_view event);
inline constexpr const char* kEventBatches = "dm.events.>";
inline constexpr const char* kUplinkBatches = "dm.events.up";
// The <dev_eui> token of a device-event subject (the whole subject if it has another shape).
std::string_view dev_eui_of(std::string_view subject);

// Taps. Each family is "<prefix>.<id>": a subscriber follows "<prefix>.>" or one id.
inline constexpr const char* kDeviceEventPrefix = "dm.device";                // .<dev_eui>.<event>
inline constexpr const char* kDeviceStatePrefix = "dm.devstate";              // .<dev_eui>
inline constexpr const char* kFlowCompletedPrefix = "dm.flow.completed";      // .<flow_id>
inline constexpr const char* kFunctionRunPrefix = "dm.function.run";          // .<function_id>
inline constexpr const char* kDeliveryPrefix = "dm.delivery";                 // .<target_id>
inline constexpr const char* kDeadLetterPrefix = "dm.deadletter";             // .<kind>
inline constexpr const char* kRegistryChangedPrefix = "dm.registry.changed";  // .<kind>
std::string device_state(std::string_view dev_eui);                           // dm.devstate.<dev_eui>
inline constexpr const char* kDeviceStates = "dm.devstate.>";
std::string registry_changed(std::string_view kind);  // dm.registry.changed.<kind>
inline constexpr const char* kRegistryChanges = "dm.registry.changed.>";
std::string delivery(std::string_view target_id);        // dm.delivery.<target_id>
std::string function_run(std::string_view function_id);  // dm.function.run.<function_id>
std::string flow_completed(std::string_view flow_id);    // dm.flow.completed.<flow_id>
std::string dead_letter(std::string_view kind);          // dm.deadletter.<kind>

// Cache invalidation between replicas.
inline constexpr const char* kRegistryInvalidate = "dm.registry.invalidate";
inline constexpr const char* kAuthChanged = "dm.gateway.auth.changed";

// Durable work (stream DM_DISPATCH): dm.work.dispatch.<target_id>.
std::string dispatch(std::string_view target_id);
inline constexpr const char* kDispatchAll = "dm.work.dispatch.>";

// Batched function executions (queue group function-runner); only the orchestrator asks.
inline constexpr const char* kFunctionExec = "dm.fn.exec";

// REST over NATS: dm.rpc.<owner>.<caller>; the owner serves dm.rpc.<owner>.* in queue group <owner>.
std::string rpc(std::string_view owner, std::string_view caller);
std::string rpc_served(std::string_view owner);
// The caller of an RPC request from the subject it came on; empty when it has no caller token.
std::string_view rpc_caller(std::string_view subject, std::string_view owner);

// Where a service's replies come back: it may subscribe only under its own prefix.
std::string inbox_prefix(std::string_view service);  // _INBOX.<service>

// The tokens ids and DevEUIs become in subjects ("Subject tokens" in proto/README.md): an id is
// [A-Za-z0-9_-]{1,128}, never '.', '*', '>' or whitespace, so it is always exactly one token;
// a DevEUI is 16 lower-case hex digits.
bool is_token(std::string_view id);
bool is_dev_eui(std::string_view dev_eui);

}  // namespace subject
}  // namespace dm::contract
