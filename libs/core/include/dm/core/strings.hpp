#pragma once
// Small string helpers, one implementation each (ASCII: the words they meet are protocol
// words, header names, hosts and hex digits).
#include <string>
#include <string_view>
#include <vector>

namespace dm {

std::string lower(std::string_view text);
// Without leading and trailing spaces and tabs.
std::string_view trim(std::string_view text);
// The parts between `separator`s (empty parts kept).
std::vector<std::string_view> split(std::string_view text, char separator);
// A canonical UUID (8-4-4-4-12 hex digits, either case). Ids are UUIDs everywhere: anything
// else cannot name a resource and gets 404 without a database round trip.
bool is_uuid(std::string_view text);

}  // namespace dm
