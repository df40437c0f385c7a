#include "dm/contract/caches.hpp"

#include "fields.hpp"

namespace dm::contract {

namespace {
constexpr json::Limits kSmall{.max_bytes = 64 << 10, .max_depth = 16};
}  // namespace

std::string encode(const AuthChanged& change) {
  json::Writer w;
  w.start_object();
  detail::field_if(w, "user_id", change.user_id);
  detail::field_if(w, "origin", change.origin);
  w.end_object();
  return w.take();
}

Result<AuthChanged> decode_auth_changed(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, detail::parse_object(text, kSmall, "credential change"));
  detail::Fields fields(doc);
  DM_ASSIGN_OR_RETURN(auto user, fields.text("user_id", detail::Need::optional));
  DM_ASSIGN_OR_RETURN(auto origin, fields.text("origin", detail::Need::optional));
  return AuthChanged{detail::owned(user), detail::owned(origin)};
}

std::string encode(const CacheInvalidate&) { return "{}"; }

Result<CacheInvalidate> decode_cache_invalidate(std::string_view text) {
  DM_TRY(detail::parse_object(text, kSmall, "cache invalidation"));
  return CacheInvalidate{};
}

}  // namespace dm::contract
