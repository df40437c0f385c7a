#pragma once
// The gateway's primitives, all on OpenSSL: random tokens, HMAC-SHA256, constant-time
// comparison and password hashing (PBKDF2-HMAC-SHA256). base64url and SHA-256 are
// dm/core/encoding.hpp's.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dm/core/encoding.hpp"

namespace dm::gateway {

// OWASP's 2023 figure for PBKDF2-HMAC-SHA256; also the floor.
inline constexpr int kPasswordIterations = 600000;

std::string random_bytes(std::size_t n);
std::string hmac_sha256(std::string_view key, std::string_view data);
bool constant_time_equal(std::string_view a, std::string_view b);

// "pbkdf2_sha256$<iterations>$<salt b64url>$<hash b64url>" with a fresh 16-byte salt.
std::string hash_password(std::string_view password, int iterations = kPasswordIterations);
// False for a wrong password and for a malformed stored hash.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace dm::gateway
