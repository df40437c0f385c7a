#pragma once
// Text in JSON the orchestrator reads from others (events, runner answers, the registry's
// view) and writes for them: one definition each, shared by the service's readers and writers.
#include <optional>
#include <string>
#include <string_view>

#include "dm/json/json.hpp"

namespace dm::flow_orchestrator {

// The string member `key` of an object, or "" when it is missing or not a string: the
// messages read here treat an absent text and an empty one alike.
inline std::string string_of(const json::Value& object, std::string_view key) {
  const auto* v = json::find(object, key);
  return v && v->IsString() ? std::string(json::view(*v)) : std::string();
}

// Empty text written as null (for json::Writer::field_or_null): an unknown id or DevEUI.
inline std::optional<std::string_view> null_if_empty(std::string_view text) {
  return text.empty() ? std::nullopt : std::optional<std::string_view>(text);
}

}  // namespace dm::flow_orchestrator
