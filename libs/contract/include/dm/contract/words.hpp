#pragma once
// The domain words of the contract (the enums of proto/schemas) as C++ enums. Services compare
// enums; the words themselves are spelled here once, and only the JSON edge (the encoders and
// decoders of dm/contract) turns one into the other:
//   contract::to_string(DeliveryStatus::dead_lettered) == "dead_lettered"
//   contract::parse<JobKind>("storage") == JobKind::storage;  parse<JobKind>("email") == nullopt
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace dm::contract {

// A function execution's outcome (function-exec-reply; function-run records all but unavailable,
// which means the runner could not run it at all: no run happened).
enum class ExecStatus { success, filtered, error, timeout, unavailable };
// A line a function logged (console.debug/info/warn/error).
enum class LogLevel { debug, info, warn, error };
// A flow run (flow-completed), and one node of its path.
enum class RunStatus { success, partial_success, error, filtered };
enum class StepStatus { success, error, filtered, timeout, skipped, dispatched };
// One delivery attempt (delivery-result).
enum class DeliveryStatus { delivered, retrying, dead_lettered, failed };
// What a delivery job goes to.
enum class JobKind { integration, storage };
// A registry definition (registry-change: also the last subject token) and what happened to it.
enum class RegistryKind { device, label, function, integration, flow, storage };
enum class ChangeAction { created, updated, deleted };
// A device's status in the registry. The device-state tap announces transitions between the
// first three only: maintenance is an operator's setting the registry owns, never a transition.
enum class DeviceState { never_seen, online, offline, maintenance };
enum class StateReason { uplink, timeout, created, deleted, config };
// A device event (device-event; also the last subject token).
enum class EventType { up, join, status, ack, txack, log, location };
// What a dead letter holds (dead-letter; also the last subject token).
enum class DeadLetterKind { device_events, uplinks, deliveries };

// Each enum's words, in the order of its values.
template <typename E>
struct Words;
template <>
struct Words<ExecStatus> {
  static constexpr std::array<std::string_view, 5> names{"success", "filtered", "error", "timeout", "unavailable"};
};
template <>
struct Words<LogLevel> {
  static constexpr std::array<std::string_view, 4> names{"debug", "info", "warn", "error"};
};
template <>
struct Words<RunStatus> {
  static constexpr std::array<std::string_view, 4> names{"success", "partial_success", "error", "filtered"};
};
template <>
struct Words<StepStatus> {
  static constexpr std::array<std::string_view, 6> names{"success", "error",   "filtered",
                                                         "timeout", "skipped", "dispatched"};
};
template <>
struct Words<DeliveryStatus> {
  static constexpr std::array<std::string_view, 4> names{"delivered", "retrying", "dead_lettered", "failed"};
};
template <>
struct Words<JobKind> {
  static constexpr std::array<std::string_view, 2> names{"integration", "storage"};
};
template <>
struct Words<RegistryKind> {
  static constexpr std::array<std::string_view, 6> names{"device",      "label", "function",
                                                         "integration", "flow",  "storage"};
};
template <>
struct Words<ChangeAction> {
  static constexpr std::array<std::string_view, 3> names{"created", "updated", "deleted"};
};
template <>
struct Words<DeviceState> {
  static constexpr std::array<std::string_view, 4> names{"never_seen", "online", "offline", "maintenance"};
};
template <>
struct Words<StateReason> {
  static constexpr std::array<std::string_view, 5> names{"uplink", "timeout", "created", "deleted", "config"};
};
template <>
struct Words<EventType> {
  static constexpr std::array<std::string_view, 7> names{"up", "join", "status", "ack", "txack", "log", "location"};
};
template <>
struct Words<DeadLetterKind> {
  static constexpr std::array<std::string_view, 3> names{"device-events", "uplinks", "deliveries"};
};

template <typename E>
concept Word = requires {
  Words<E>::names;
};

template <Word E>
constexpr std::string_view to_string(E value) {
  return Words<E>::names[static_cast<std::size_t>(value)];
}

// The value a word names; nullopt for any other text (the caller says what it expected).
template <Word E>
constexpr std::optional<E> parse(std::string_view word) {
  for (std::size_t i = 0; i < Words<E>::names.size(); ++i) {
    if (Words<E>::names[i] == word) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace dm::contract
