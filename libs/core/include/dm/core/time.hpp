#pragma once
// Time helpers: RFC 3339 formatting and parsing in UTC with up to 9 fractional digits.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "dm/core/result.hpp"

namespace dm {

using SysTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

// "2026-11-27T09:00:00.123456Z" (microseconds).
std::string format_rfc3339(SysTime t);
// Accepts Z or ±HH:MM, and 0–9 fractional digits.
Result<SysTime> parse_rfc3339(std::string_view text);
std::int64_t unix_micros(SysTime t);
inline SysTime now() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

}  // namespace dm
