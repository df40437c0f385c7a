#pragma once
// The registry's words: the kinds of definition, config types, statuses and change actions.
// Code compares these enums; their words (the same in JSON, in SQL rows and in subjects)
// appear only where text comes in or goes out: word() writes one, parse_word() reads one.
#include <array>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dm::registry {

// The kinds of definition. The first five are what a flow node stands for, in this order.
enum class Kind { device, label, function, integration, storage, flow };

// Integration types (http, mqtt) and storage types (internal, influxdb, postgresql).
enum class ConfigType { http, mqtt, internal, influxdb, postgresql };

enum class DeviceStatus { never_seen, online, offline, maintenance };
// Written by the function-runner's reports (success, error).
enum class FunctionStatus { inactive, success, error };
// Written by the dispatcher as deliveries succeed or fail.
enum class IntegrationStatus { active, error, paused };

// What a change event says happened.
enum class Action { created, updated, deleted };

// Words<E>::all: the word of each value of E, in the enum's order.
template <typename E>
struct Words;
template <>
struct Words<Kind> {
  static constexpr std::array<std::string_view, 6> all = {"device",      "label",   "function",
                                                          "integration", "storage", "flow"};
};
template <>
struct Words<ConfigType> {
  static constexpr std::array<std::string_view, 5> all = {"http", "mqtt", "internal", "influxdb", "postgresql"};
};
template <>
struct Words<DeviceStatus> {
  static constexpr std::array<std::string_view, 4> all = {"never_seen", "online", "offline", "maintenance"};
};
template <>
struct Words<FunctionStatus> {
  static constexpr std::array<std::string_view, 3> all = {"inactive", "success", "error"};
};
template <>
struct Words<IntegrationStatus> {
  static constexpr std::array<std::string_view, 3> all = {"active", "error", "paused"};
};
template <>
struct Words<Action> {
  static constexpr std::array<std::string_view, 3> all = {"created", "updated", "deleted"};
};

template <typename E>
constexpr std::string_view word(E value) {
  return Words<E>::all[static_cast<std::size_t>(value)];
}

template <typename E>
constexpr std::optional<E> parse_word(std::string_view text) {
  for (std::size_t i = 0; i < Words<E>::all.size(); ++i) {
    if (Words<E>::all[i] == text) return static_cast<E>(i);
  }
  return std::nullopt;
}

// A choice an API reader already checked against words() (absent stays absent).
template <typename E>
std::optional<E> parse_choice(const std::optional<std::string>& text) {
  return text ? parse_word<E>(std::string_view(*text)) : std::nullopt;
}

// The words of `values` in their order, as the API readers' allow-lists take them.
template <typename E>
std::vector<std::string> words(std::span<const E> values) {
  std::vector<std::string> out;
  for (E v : values) out.emplace_back(word(v));
  return out;
}
template <typename E>
std::vector<std::string> words(std::initializer_list<E> values) {
  return words(std::span<const E>(values.begin(), values.size()));
}
// Every word of E.
template <typename E>
std::vector<std::string> words() {
  return {Words<E>::all.begin(), Words<E>::all.end()};
}

// How answers name a kind: "devices" (routes, search groups), "Device" (messages),
// "A device" (the duplicate-name message).
std::string_view plural(Kind kind);
std::string_view title(Kind kind);
std::string_view a_title(Kind kind);

// Kinds a flow node may stand for (all but flows), and which of them start a flow.
bool is_node_kind(Kind kind);
bool is_trigger_kind(Kind kind);  // device, label: uplinks enter the flow there
inline constexpr std::array<Kind, 5> kNodeKinds = {Kind::device, Kind::label, Kind::function, Kind::integration,
                                                   Kind::storage};

// The hex digits of a EUI written with any of `separators` between them, lowercase; nullopt
// when anything else is in it. Callers check the length (a dev_eui has 16).
std::optional<std::string> eui_digits(std::string_view text, std::string_view separators);

}  // namespace dm::registry
