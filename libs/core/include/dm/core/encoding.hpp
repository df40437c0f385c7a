#pragma once
// Byte encodings and digests, one implementation each.
#include <optional>
#include <string>
#include <string_view>

namespace dm {

// Standard alphabet with padding.
std::string base64_encode(std::string_view bytes);
// Standard or URL-safe alphabet, padding optional; nullopt when it is not base64.
std::optional<std::string> base64_decode(std::string_view text);
// URL-safe alphabet without padding (JWT).
std::string base64url_encode(std::string_view bytes);
// Strict: URL-safe alphabet only, no padding, unused bits zero (so a token has one encoding).
std::optional<std::string> base64url_decode(std::string_view text);
// Lower-case hexadecimal.
std::string hex_encode(std::string_view bytes);
// Lower-case hex SHA-256 (OpenSSL).
std::string sha256_hex(std::string_view data);

}  // namespace dm
