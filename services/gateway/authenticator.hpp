#pragma once
// Who is calling: a bearer token (Authorization: Bearer <jwt>) or an API key (X-API-Key).
// A valid credential is not enough: the user must still exist and be active, and the role
// used is the user's current one (for a key, the lower of the key's and the user's), so a
// deactivation or demotion takes effect on the next request. User states and keys are
// cached for a short time to keep the database off the hot path; every change made through
// this gateway clears the cache at once (and other replicas through NATS). A token must also
// carry the user's current credential version (claim "ver"), so a password change, a
// deactivation or a reactivation ends every token issued before it. Unknown API keys are
// remembered for a short time too (bounded), so a client repeating random keys costs no query
// each; the per-address failure budget (access.cpp) bounds how many new ones it may try.
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "dm/core/result.hpp"
#include "dm/http/message.hpp"
#include "dm/metrics/metrics.hpp"
#include "role.hpp"
#include "store.hpp"

namespace dm::gateway {

struct Principal {
  std::string user_id;
  Role role = Role::viewer;
  std::string key_id;  // set when authenticated by an API key
};

inline constexpr std::string_view kApiKeyPrefix = "dmk_";

class Authenticator {
 public:
  // `key_lookups` (may be null) counts the API-key lookups that reach the database.
  Authenticator(Store& store, std::string secret_key, std::chrono::milliseconds cache_ttl,
                metrics::Counter* key_lookups = nullptr);

  // unauthorized (message says why, for logs) or unavailable (database down).
  Result<Principal> authenticate(const http::Request& request);
  void invalidate();

 private:
  struct CachedUser {
    std::optional<UserState> state;  // nullopt: no such user
    std::chrono::steady_clock::time_point at;
  };
  struct CachedKey {
    KeyRow row;
    std::chrono::steady_clock::time_point at;
  };
  struct CachedToken {
    std::string sub;
    std::int64_t exp = 0;
    std::int64_t ver = 0;
  };
  Result<Principal> from_token(std::string_view token);
  Result<Principal> from_key(std::string_view key);
  Result<UserState> active_user(const std::string& user_id);
  Result<std::optional<KeyRow>> lookup_key(const std::string& hash);

  Store& store_;
  std::string secret_key_;
  std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, CachedUser> users_;
  std::unordered_map<std::string, CachedKey> keys_;  // by key hash
  // Tokens already verified (by their full text): the signature check is the costliest part
  // of a request's authentication, and a client sends the same token many times. Expiry and
  // the user's state are still checked on every request.
  std::unordered_map<std::string, CachedToken> tokens_;
  // Key hashes the database did not know, until when (cleared with the rest on a change).
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> unknown_keys_;
  metrics::Counter* key_lookups_;
};

}  // namespace dm::gateway
