#pragma once
// Shared by the registry's resource modules: the handles they need, change events,
// and the mapping of store errors to answers.
#include <string>
#include <string_view>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/http/message.hpp"
#include "dm/http/router.hpp"

namespace dm::registry {

// Publishes `dm.registry.changed.<kind>` after a committed change, so caches elsewhere
// (orchestrator, runner, gateway) refresh without asking on every uplink.
class Events {
 public:
  explicit Events(bus::Connection& nats) : nats_(nats) {}
  void changed(std::string_view kind, std::string_view action, std::string_view id, std::int64_t version);

 private:
  bus::Connection& nats_;
};

struct Context {
  db::Pool& db;
  Events& events;
  std::string secret_key;  // derives the key that encrypts stored secrets
};

// 409 for conflicts (with `conflict_detail`), 404, 422 for bad input caught by the
// database, 503 when the database is unreachable, 500 otherwise (logged, not shown).
http::Response store_error(const Error& e, std::string_view conflict_detail = {});

// "[doc,doc,...]" from the first column of `rows` (JSON rendered by PostgreSQL).
std::string json_array(const db::Rows& rows, int column = 0);

// 200 with a JSON array and X-Total-Count.
http::Response list_response(const db::Rows& rows, std::int64_t total);

http::Response not_found(std::string_view what);

// Runs f(Session&) -> Result<http::Response> in a transaction. A 4xx/5xx response from f
// rolls the transaction back and is returned as is; store errors become answers through
// store_error(conflict_detail).
template <typename F>
http::Response in_transaction(db::Pool& pool, F&& f, std::string_view conflict_detail = {}) {
  std::optional<http::Response> refused;
  auto r = pool.transaction([&](db::Session& s) -> Result<http::Response> {
    auto res = f(s);
    if (res.ok() && res->status >= 400) {
      refused = std::move(res).value();
      return Error(Errc::internal, "refused");  // any error rolls back
    }
    return res;
  });
  if (refused) return std::move(*refused);
  if (!r) return store_error(r.error(), conflict_detail);
  return std::move(r).value();
}

// Names of enabled flows whose nodes reference (kind, id); empty when none.
Result<std::vector<std::string>> enabled_flows_using(db::Session& s, std::string_view kind, std::string_view id);
// 409 "<What> is used by enabled flows: a, b" or nullopt when free to delete.
Result<std::optional<http::Response>> refuse_if_in_use(db::Session& s, std::string_view kind, std::string_view id,
                                                       std::string_view what);

// Each resource module adds its routes.
void add_device_routes(http::Router& router, Context& ctx);
void add_label_routes(http::Router& router, Context& ctx);
void add_function_routes(http::Router& router, Context& ctx);
void add_integration_routes(http::Router& router, Context& ctx);
void add_storage_routes(http::Router& router, Context& ctx);
void add_flow_routes(http::Router& router, Context& ctx);
void add_search_routes(http::Router& router, Context& ctx);

}  // namespace dm::registry
