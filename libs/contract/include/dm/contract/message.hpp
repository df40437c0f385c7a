#pragma once
// How the typed messages of dm/contract hold their text.
//
// A message a service produces on a hot path (delivery jobs, executions and their results,
// delivery results, function runs, flow runs) is a template on its text type, in two flavours:
//   Basic<M><std::string>       owns its text: what a decoder returns, kept as long as needed;
//   Basic<M><std::string_view>  points at the producer's own strings: encoding it copies
//                               nothing but into the output (the `...Ref` aliases).
// JSON documents a message carries (a function's input and output, a job's message) are JSON
// text in both, written into the output as they are (json::Writer::raw), never parsed again.
//
// Encoding rules, the same for every message: a std::optional member the schema lists as
// required is written as null when empty; one the schema leaves out is omitted when empty.
#include <concepts>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace dm::contract {

template <typename Text>
concept MessageText = std::same_as<Text, std::string> || std::same_as<Text, std::string_view>;

// A list inside a message: a vector in a decoded one, a span over the producer's own list in a
// reference.
template <MessageText Text, typename T>
using List = std::conditional_t<std::is_same_v<Text, std::string>, std::vector<T>, std::span<const T>>;

// An optional member of a reference from the producer's own optional string.
inline std::optional<std::string_view> view(const std::optional<std::string>& text) {
  return text ? std::optional<std::string_view>(*text) : std::nullopt;
}

}  // namespace dm::contract
