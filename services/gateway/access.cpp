// The one place where roles are enforced. Every route of the table has an Access level;
// the middleware resolves the caller before the request reaches any handler, answers
// 401/403 itself, and hands the principal on as Dm-User-Id / Dm-Role (which the outer
// middleware has already stripped from what the client sent).
//
// It also keeps the failure budget of every client address: each 401 spends one, and an
// address whose budget is spent gets 429 + Retry-After on every route that authenticates and
// on the gateway's own public routes (login, registration), before any credential is looked
// at — a flood of guesses costs neither a database query nor a signature check. Authenticated
// traffic from other addresses pays one atomic read for it.
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

struct Guard {
  std::optional<Access> access;
  bool budgeted = false;  // counts against the address's failure budget
};

// What the table says of a request: its access (none: public, not in the table) and whether
// the failure budget applies.
Guard guard_of(const std::map<std::pair<std::string, std::string>, std::pair<Access, bool>>& table,
               const http::Request& req) {
  if (req.route.empty()) {
    // 404/405 under the API: say nothing about what exists to an anonymous caller.
    if (req.path.rfind("/api/", 0) == 0) return {Access::viewer, true};
    return {};
  }
  auto it = table.find({req.method == "HEAD" ? "GET" : req.method, req.route});
  if (it == table.end() && req.method == "HEAD") it = table.find({"HEAD", req.route});
  if (it == table.end()) return {};
  return {it->second.first, it->second.first != Access::public_ || it->second.second};
}
}  // namespace

http::Response too_many(std::string_view detail, std::int64_t retry_after_seconds) {
  auto r = http::Response::error(429, detail);
  r.headers.set("Retry-After", std::to_string(retry_after_seconds));
  return r;
}

Caller caller_of(const http::Request& request) {
  return Caller{request.header("Dm-User-Id").value_or(""),
                parse_role(request.header("Dm-Role").value_or("")).value_or(Role::viewer)};
}

void use_access_control(http::Router& router, AuthContext& ctx) {
  // (method, path) → (access, budgeted even though public: the gateway's own login and
  // registration, which spend the budget themselves; not the ChirpStack webhook).
  auto table = std::make_shared<std::map<std::pair<std::string, std::string>, std::pair<Access, bool>>>();
  for (const auto& r : route_table()) {
    (*table)[{r.method, r.path}] = {r.access, std::string_view(r.service) == "gateway"};
  }

  router.use([table, &ctx](const http::Request& req, http::Reply reply, const http::Handler& next) {
    auto guard = guard_of(*table, req);
    std::string address;  // found only when needed: most requests never need it
    if (guard.budgeted && ctx.failures.any_blocked()) {
      address = client_address(req, ctx.settings.trusted_proxies);
      if (auto wait = ctx.failures.blocked(address, AddressBudget::Clock::now())) {
        return reply(too_many("Too many failed authentications from this address; try again later", *wait));
      }
    }
    // Health, metrics, docs and the OpenAPI document are not in the table: public.
    if (!guard.access || *guard.access == Access::public_) return next(req, std::move(reply));

    auto principal = ctx.auth.authenticate(req);
    if (!principal) {
      auto code = principal.error().code;
      if (code == Errc::unavailable || code == Errc::timeout) {
        log::warn("authentication unavailable", {{"error", principal.error().message}});
        return reply(http::Response::error(503, "Authentication is temporarily unavailable"));
      }
      if (code != Errc::unauthorized) {
        log::error("authentication failed", {{"error", principal.error().message}});
        return reply(http::Response::error(500, "Internal Server Error"));
      }
      if (address.empty()) address = client_address(req, ctx.settings.trusted_proxies);
      ctx.failures.spend(address, AddressBudget::Clock::now());
      log::debug("not authenticated", {{"path", req.path}, {"reason", principal.error().message}});
      return reply(unauthorized());
    }
    if (!at_least(principal->role, needed_role(*guard.access))) {
      return reply(http::Response::error(
          403, std::string("This operation requires the ") + access_name(*guard.access) + " role"));
    }
    http::Request with = req;
    with.headers.set("Dm-User-Id", principal->user_id);
    with.headers.set("Dm-Role", std::string(role_name(principal->role)));
    next(with, std::move(reply));
  });
}

}  // namespace dm::gateway
