#pragma once
// Cache invalidation between replicas: dm.gateway.auth.changed (proto/schemas/auth-changed)
// and dm.registry.invalidate (cache-invalidate). Each says only that something changed: every
// replica that hears one clears its caches, whatever the body holds, so a subscriber need not
// read it at all; the decoders are for subscribers that want to know more.
#include <optional>
#include <string>
#include <string_view>

#include "dm/core/result.hpp"

namespace dm::contract {

// A user or API key changed: gateway replicas clear their credential caches. Nothing secret.
struct AuthChanged {
  std::optional<std::string> user_id;  // the user concerned, when known; omitted when empty
  // The gateway replica that made the change. It acted on it before answering, so it skips its
  // own announcement: acting again would end streams opened since.
  std::optional<std::string> origin;
  bool operator==(const AuthChanged&) const = default;
};
std::string encode(const AuthChanged& change);
Result<AuthChanged> decode_auth_changed(std::string_view json);

// Something in the registry changed: replicas clear their read caches. Empty on purpose.
struct CacheInvalidate {
  bool operator==(const CacheInvalidate&) const = default;
};
std::string encode(const CacheInvalidate& invalidate);
Result<CacheInvalidate> decode_cache_invalidate(std::string_view json);

}  // namespace dm::contract
