// /api/v1/auth/api-keys: a caller's own keys (admins: everyone's). The key is shown once,
// at creation; only its SHA-256 is stored.
#include "auth_context.hpp"
#include "crypto.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/core/time.hpp"

namespace dm::gateway {

namespace {

// POST: a new key for the caller, with a role no higher than theirs.
http::Response create_key(AuthContext& ctx, const http::Request& req) {
  auto caller = caller_of(req);
  auto body = api::parse_body(req, 64 << 10);
  if (body.error) return *body.error;
  api::BodyReader r(body.doc);
  r.forbid_unknown({"name", "role", "expires_at"});
  auto name = r.string("name", {.required = true, .min = 1, .max = 100});
  auto role_text = r.choice("role", {"viewer", "editor", "admin"});
  auto expires = r.string("expires_at", {.max = 64, .nullable = true});
  if (expires) {
    auto t = parse_rfc3339(*expires);
    if (!t)
      r.add_error("expires_at", "Input should be an RFC 3339 date-time", "datetime_parsing");
    else if (*t <= now())
      r.add_error("expires_at", "must be in the future");
  }
  if (!r.ok()) return r.response();
  Role role = role_text ? *parse_role(*role_text) : caller.role;
  if (!at_least(caller.role, role)) {
    return http::Response::error(403, "An API key cannot have a role above its creator's");
  }
  std::string key = std::string(kApiKeyPrefix) + base64url_encode(random_bytes(32));
  auto doc = ctx.store.create_key(caller.user_id, *name, role, sha256_hex(key), key.substr(0, 12), expires);
  if (!doc) return store_failure(doc.error());
  // The stored document plus the secret, which is never shown again.
  std::string out = std::move(doc).value();
  out.pop_back();
  json::Writer w;
  w.start_object().field("key", key).end_object();
  out += "," + std::string(w.view().substr(1));
  auto res = http::Response::json(201, std::move(out));
  res.headers.set("Cache-Control", "no-store");
  return res;
}

// GET: the caller's keys; an admin's list is everyone's unless ?user_id= names one.
http::Response list_keys(AuthContext& ctx, const http::Request& req) {
  auto caller = caller_of(req);
  api::QueryReader q(req);
  auto page = q.paging();
  auto user = q.string("user_id");
  if (!q.ok()) return q.response();
  std::string owner = caller.user_id;
  if (caller.role == Role::admin) {
    owner = user.value_or("");  // admins list everyone's keys unless they name a user
    if (!owner.empty() && !api::is_uuid(owner))
      return api::validation_error({"query", "user_id"}, "Input should be a valid UUID", "uuid_parsing");
  }
  auto keys = ctx.store.list_keys(owner, page.skip, page.limit);
  if (!keys) return store_failure(keys.error());
  auto res = http::Response::json(200, std::move(keys->json));
  res.headers.set("X-Total-Count", std::to_string(keys->total));
  return res;
}

http::Response revoke_key(AuthContext& ctx, const http::Request& req) {
  auto caller = caller_of(req);
  auto id = req.param("id").value_or("");
  if (!api::is_uuid(id)) return http::Response::error(404, "API key not found");
  // Others' keys are invisible to non-admins: 404, not 403.
  auto revoked = ctx.store.revoke_key(id, caller.role == Role::admin ? std::string() : caller.user_id);
  if (!revoked) return store_failure(revoked.error());
  if (!*revoked) return http::Response::error(404, "API key not found");
  ctx.changed();
  return http::Response::empty(204);
}

}  // namespace

void add_api_key_routes(http::Router& router, AuthContext& ctx) {
  add_blocking(router, ctx, "POST", "/api/v1/auth/api-keys",
               [&ctx](const http::Request& req) { return create_key(ctx, req); });
  add_blocking(router, ctx, "GET", "/api/v1/auth/api-keys",
               [&ctx](const http::Request& req) { return list_keys(ctx, req); });
  add_blocking(router, ctx, "DELETE", "/api/v1/auth/api-keys/{id}",
               [&ctx](const http::Request& req) { return revoke_key(ctx, req); });
}

}  // namespace dm::gateway
