#pragma once
// Checks and conversions of text that came from outside.
#include <cstddef>
#include <string>
#include <string_view>

namespace dm {

// Is `text` well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF)?
bool valid_utf8(std::string_view text);

// `text` made safe for a text column, a log line or a JSON string: each byte of an invalid
// UTF-8 sequence and each control character (NUL, other C0, DEL) becomes a \xNN escape.
// At most about `max_bytes` bytes are kept; a cut text ends with "…".
std::string printable(std::string_view text, std::size_t max_bytes = 1024);

// `text` made valid UTF-8 for a json or text column (PostgreSQL refuses anything else), with as
// little change as possible: each byte that does not start a well-formed sequence becomes
// U+FFFD, and the result stops at the last whole character within `max_bytes` bytes (no note:
// callers say it was cut their own way). Control characters stay (JSON writers escape them).
std::string to_valid_utf8(std::string_view text, std::size_t max_bytes = std::string_view::npos);

// `text` cut to at most `max_bytes` bytes on a UTF-8 character boundary, with a note of how
// much was cut (" … [cut 123456 bytes]") when it was longer.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

}  // namespace dm
