// /api/v1/users: administration of accounts (admin role, enforced by the route table).
#include "auth_context.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"

namespace dm::gateway {
namespace {
http::Response update(AuthContext& ctx, const std::string& id, std::optional<Role> role, std::optional<bool> active) {
  if (!api::is_uuid(id)) return http::Response::error(404, "User not found");
  auto doc = ctx.store.update_user(id, role, active);
  if (!doc) {
    if (doc.error().code == Errc::not_found) return http::Response::error(404, "User not found");
    if (doc.error().code == Errc::conflict) return http::Response::error(409, doc.error().message);
    return store_failure(doc.error());
  }
  // Committed: from the next request on, every replica sees the new role or state.
  ctx.changed();
  return http::Response::json(200, std::move(doc).value());
}
}  // namespace

void add_user_routes(http::Router& router, AuthContext& ctx) {
  add_blocking(router, ctx, "GET", "/api/v1/users", [&ctx](const http::Request& req) {
    api::QueryReader q(req);
    auto page = q.paging();
    if (!q.ok()) return q.response();
    auto users = ctx.store.list_users(page.skip, page.limit);
    if (!users) return store_failure(users.error());
    auto res = http::Response::json(200, std::move(users->json));
    res.headers.set("X-Total-Count", std::to_string(users->total));
    return res;
  });

  add_blocking(router, ctx, "GET", "/api/v1/users/{id}", [&ctx](const http::Request& req) {
    auto id = req.param("id").value_or("");
    if (!api::is_uuid(id)) return http::Response::error(404, "User not found");
    auto doc = ctx.store.user_doc(id);
    if (!doc) return store_failure(doc.error());
    if (!*doc) return http::Response::error(404, "User not found");
    return http::Response::json(200, std::move(**doc));
  });

  add_blocking(router, ctx, "PATCH", "/api/v1/users/{id}", [&ctx](const http::Request& req) {
    auto body = api::parse_body(req, 64 << 10);
    if (body.error) return *body.error;
    api::BodyReader r(body.doc);
    r.forbid_unknown({"role", "is_active"});
    auto role = r.choice("role", {"viewer", "editor", "admin"});
    auto active = r.boolean("is_active");
    if (!r.ok()) return r.response();
    return update(ctx, req.param("id").value_or(""), role ? parse_role(*role) : std::nullopt, active);
  });

  add_blocking(router, ctx, "POST", "/api/v1/users/{id}/deactivate", [&ctx](const http::Request& req) {
    return update(ctx, req.param("id").value_or(""), std::nullopt, false);
  });
}

}  // namespace dm::gateway
