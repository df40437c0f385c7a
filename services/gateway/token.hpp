#pragma once
// Access tokens: JWT (RFC 7519) signed with HS256 and nothing else. The algorithm is
// pinned: a token whose header names another algorithm (or "none") is refused before
// its signature is even looked at, so a key can never be used the wrong way.
#include <cstdint>
#include <string>
#include <string_view>

#include "dm/core/result.hpp"
#include "role.hpp"

namespace dm::gateway {

struct Claims {
  std::string sub;  // user id
  Role role = Role::viewer;
  std::string jti;
  std::int64_t iat = 0;  // seconds since the epoch
  std::int64_t exp = 0;
  // The user's credential version when the token was issued (claim "ver"): a token whose
  // version is not the user's current one is refused (see store.hpp).
  std::int64_t ver = 0;
};

// Our tokens carry "typ":"access" in the payload, so another kind of JWT signed with the
// same key (or a future refresh token) cannot be used as an access token.
inline constexpr std::string_view kAccessType = "access";

std::string issue_token(std::string_view key, const Claims& claims);

// Errc::unauthorized with a short reason (for logs; clients see one generic answer) unless
// the token is well formed, HS256, correctly signed, of type access, and valid at `now`.
Result<Claims> verify_token(std::string_view key, std::string_view token, std::int64_t now);

}  // namespace dm::gateway
