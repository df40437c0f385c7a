#include "authenticator.hpp"

#include "crypto.hpp"
#include "dm/api/query.hpp"
#include "token.hpp"

namespace dm::gateway {
namespace {
Error unauthorized(std::string why) { return Error(Errc::unauthorized, std::move(why)); }
// Caches never grow without bound, whatever credentials clients invent.
constexpr std::size_t kMaxCached = 100000;
constexpr std::size_t kMaxUnknownKeys = 10000;
// Long enough that a flood of repeated keys costs a query every few seconds at most; short
// because a cache entry is all that stands between a key and its (future) row. Keys are
// random 256-bit values, so a key looked up before it exists is not a real case.
constexpr std::chrono::seconds kUnknownKeyTtl{10};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

Authenticator::Authenticator(Store& store, std::string secret_key, std::chrono::milliseconds cache_ttl,
                             metrics::Counter* key_lookups)
    : store_(store), secret_key_(std::move(secret_key)), ttl_(cache_ttl), key_lookups_(key_lookups) {}

void Authenticator::invalidate() {
  std::lock_guard lock(mutex_);
  users_.clear();
  keys_.clear();
  unknown_keys_.clear();
}

Result<Principal> Authenticator::authenticate(const http::Request& request) {
  if (auto auth = request.header("Authorization")) {
    std::string_view v = *auth;
    if (v.size() < 7 || !http::iequals(v.substr(0, 7), "Bearer ")) return unauthorized("not a bearer credential");
    v.remove_prefix(7);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (v.empty()) return unauthorized("empty bearer token");
    return from_token(v);
  }
  if (auto key = request.header("X-API-Key")) return from_key(*key);
  return unauthorized("no credentials");
}

Result<UserState> Authenticator::active_user(const std::string& user_id) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    auto it = users_.find(user_id);
    if (it != users_.end() && now - it->second.at < ttl_) {
      if (!it->second.state || !it->second.state->is_active) return unauthorized("user unknown or inactive");
      return *it->second.state;
    }
  }
  DM_ASSIGN_OR_RETURN(auto state, store_.user_state(user_id));
  {
    std::lock_guard lock(mutex_);
    if (users_.size() >= kMaxCached) users_.clear();
    users_[user_id] = CachedUser{state, now};
  }
  if (!state || !state->is_active) return unauthorized("user unknown or inactive");
  return *state;
}

Result<Principal> Authenticator::from_token(std::string_view token) {
  auto now = unix_now();
  std::optional<CachedToken> known;
  {
    std::lock_guard lock(mutex_);
    auto it = tokens_.find(std::string(token));
    if (it != tokens_.end()) known = it->second;
  }
  if (!known) {
    DM_ASSIGN_OR_RETURN(auto claims, verify_token(secret_key_, token, now));
    // sub is signed, but a key may sign other things: an id that is not a UUID names no user
    // (401), and must not reach SQL, whose cast error would read as an outage (503).
    if (!api::is_uuid(claims.sub)) return unauthorized("subject is not a user id");
    known = CachedToken{claims.sub, claims.exp, claims.ver};
    std::lock_guard lock(mutex_);
    if (tokens_.size() >= kMaxCached) tokens_.clear();
    tokens_.emplace(std::string(token), *known);
  }
  if (known->exp <= now) return unauthorized("expired");
  DM_ASSIGN_OR_RETURN(auto state, active_user(known->sub));
  if (state.credential_version != known->ver) return unauthorized("issued before a credential change");
  return Principal{known->sub, state.role, {}};
}

Result<Principal> Authenticator::from_key(std::string_view key) {
  if (key.substr(0, kApiKeyPrefix.size()) != kApiKeyPrefix || key.size() > 128) return unauthorized("not an API key");
  std::string hash = sha256_hex(key);
  auto now = std::chrono::steady_clock::now();
  std::optional<KeyRow> row;
  {
    std::lock_guard lock(mutex_);
    auto it = keys_.find(hash);
    if (it != keys_.end() && now - it->second.at < ttl_) row = it->second.row;
  }
  if (!row) {
    DM_ASSIGN_OR_RETURN(auto found, lookup_key(hash));
    if (!found) return unauthorized("unknown API key");
    row = *found;
    std::lock_guard lock(mutex_);
    if (keys_.size() >= kMaxCached) keys_.clear();
    keys_[hash] = CachedKey{*row, now};
  }
  if (row->revoked) return unauthorized("revoked API key");
  if (row->expires_at && *row->expires_at <= unix_now()) return unauthorized("expired API key");
  DM_ASSIGN_OR_RETURN(auto state, active_user(row->user_id));
  Role role = at_least(state.role, row->role) ? row->role : state.role;
  return Principal{row->user_id, role, row->id};
}

// The database's answer for a key hash, unless it said "unknown" a moment ago.
Result<std::optional<KeyRow>> Authenticator::lookup_key(const std::string& hash) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    auto it = unknown_keys_.find(hash);
    if (it != unknown_keys_.end() && now < it->second) return std::optional<KeyRow>();
  }
  if (key_lookups_) key_lookups_->inc();
  DM_ASSIGN_OR_RETURN(auto found, store_.find_key(hash));
  if (!found) {
    std::lock_guard lock(mutex_);
    if (unknown_keys_.size() >= kMaxUnknownKeys) {
      std::erase_if(unknown_keys_, [&](const auto& e) { return e.second <= now; });
      if (unknown_keys_.size() >= kMaxUnknownKeys) unknown_keys_.clear();
    }
    unknown_keys_[hash] = now + kUnknownKeyTtl;
  }
  return found;
}

}  // namespace dm::gateway
