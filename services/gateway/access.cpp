// The one place where roles are enforced. Every route of the table has an Access level;
// the middleware resolves the caller before the request reaches any handler, answers
// 401/403 itself, and hands the principal on as Dm-User-Id / Dm-Role (which the outer
// middleware has already stripped from what the client sent).
#include <map>
#include <utility>

#include "auth_context.hpp"
#include "dm/core/log.hpp"
#include "routes.hpp"

namespace dm::gateway {
namespace {
Role needed_role(Access a) {
  switch (a) {
    case Access::editor:
      return Role::editor;
    case Access::admin:
      return Role::admin;
    default:
      return Role::viewer;
  }
}

http::Response unauthorized() {
  auto r = http::Response::error(401, "Not authenticated");
  r.headers.set("WWW-Authenticate", "Bearer");
  return r;
}
}  // namespace

Caller caller_of(const http::Request& request) {
  return Caller{request.header("Dm-User-Id").value_or(""),
                parse_role(request.header("Dm-Role").value_or("")).value_or(Role::viewer)};
}

void use_access_control(http::Router& router, Authenticator& auth) {
  auto table = std::make_shared<std::map<std::pair<std::string, std::string>, Access>>();
  for (const auto& r : route_table()) (*table)[{r.method, r.path}] = r.access;

  router.use([table, &auth](const http::Request& req, http::Reply reply, const http::Handler& next) {
    std::optional<Access> access;
    if (req.route.empty()) {
      // 404/405 under the API: say nothing about what exists to an anonymous caller.
      if (req.path.rfind("/api/", 0) == 0) access = Access::viewer;
    } else {
      auto it = table->find({req.method == "HEAD" ? "GET" : req.method, req.route});
      if (it == table->end() && req.method == "HEAD") it = table->find({"HEAD", req.route});
      if (it != table->end()) access = it->second;
    }
    // Health, metrics, docs and the OpenAPI document are not in the table: public.
    if (!access || *access == Access::public_) return next(req, std::move(reply));

    auto principal = auth.authenticate(req);
    if (!principal) {
      if (principal.error().code != Errc::unauthorized) {
        log::warn("authentication unavailable", {{"error", principal.error().message}});
        return reply(http::Response::error(503, "Authentication is temporarily unavailable"));
      }
      log::debug("not authenticated", {{"path", req.path}, {"reason", principal.error().message}});
      return reply(unauthorized());
    }
    if (!at_least(principal->role, needed_role(*access))) {
      return reply(
          http::Response::error(403, std::string("This operation requires the ") + access_name(*access) + " role"));
    }
    http::Request with = req;
    with.headers.set("Dm-User-Id", principal->user_id);
    with.headers.set("Dm-Role", std::string(role_name(principal->role)));
    next(with, std::move(reply));
  });
}

}  // namespace dm::gateway
