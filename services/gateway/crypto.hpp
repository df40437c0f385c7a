#pragma once
// The gateway's primitives, all on OpenSSL: random tokens, base64url, HMAC-SHA256,
// SHA-256, constant-time comparison and password hashing (PBKDF2-HMAC-SHA256).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dm::gateway {

// OWASP's 2023 figure for PBKDF2-HMAC-SHA256; also the floor.
inline constexpr int kPasswordIterations = 600000;

std::string random_bytes(std::size_t n);
std::string base64url_encode(std::string_view data);
// Strict: only the URL-safe alphabet, no padding; nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string sha256_hex(std::string_view data);
bool constant_time_equal(std::string_view a, std::string_view b);

// "pbkdf2_sha256$<iterations>$<salt b64url>$<hash b64url>" with a fresh 16-byte salt.
std::string hash_password(std::string_view password, int iterations = kPasswordIterations);
// False for a wrong password and for a malformed stored hash.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace dm::gateway
