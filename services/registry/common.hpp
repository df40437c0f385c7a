#pragma once
// Shared by the registry's resource modules: the handles they need, change events,
// and the mapping of store errors to answers.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dm/contract/subjects.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/http/message.hpp"
#include "dm/http/router.hpp"
#include "doc_cache.hpp"

namespace dm::registry {

// Publishes `dm.registry.changed.<kind>` after a committed change, so caches elsewhere
// (orchestrator, runner, gateway) refresh without asking on every uplink.
// Every committed write also clears the read cache of every registry replica.
class Events {
 public:
  Events(bus::Connection& nats, DocCache& cache) : nats_(nats), cache_(cache) {}
  void changed(std::string_view kind, std::string_view action, std::string_view id, std::int64_t version);
  // A write that publishes no change event (e.g. last-seen times) still makes cached reads stale.
  void invalidate_reads();

 private:
  bus::Connection& nats_;
  DocCache& cache_;
};

inline constexpr const char* kInvalidateSubject = contract::subject::kRegistryInvalidate;

struct Context {
  db::Pool& db;
  Events& events;
  std::string secret_key;     // derives the key that encrypts stored secrets
  DocCache* cache = nullptr;  // read cache; null disables it
};

// 409 for conflicts (with `conflict_detail`), 404, 422 for bad input caught by the
// database, 503 when the database is unreachable, 500 otherwise (logged, not shown).
http::Response store_error(const Error& e, std::string_view conflict_detail = {});

// 200 with a JSON array and X-Total-Count.
http::Response list_response(const db::Rows& rows, std::int64_t total);

http::Response not_found(std::string_view what);

// GET one document: `view` has columns id and doc (JSON rendered by PostgreSQL).
http::Response get_doc(Context& ctx, std::string_view view, const std::string& id, std::string_view what);

// One page of `view` (alias v) rows matching `where` (which uses $1..$n of `params`),
// sorted by an allow-listed column, with the total in X-Total-Count.
http::Response list_page(Context& ctx, std::string_view view, const std::string& where, db::Params params,
                         const api::Sort& sort, const api::Paging& page);

// Column/value pairs of a create or update, turned into parameterised SQL. Column names
// come from code, never from clients; `cast` maps a column to a cast such as "::jsonb".
struct ColumnValues {
  std::vector<std::pair<std::string, db::Param>> columns;
  // "INSERT INTO <table> (a, b) VALUES ($1, $2::jsonb) RETURNING id" and its parameters.
  std::pair<std::string, db::Params> insert_sql(std::string_view table, std::string (*cast)(const std::string&)) const;
  // ", a = $2, b = $3::jsonb" after `first_param` parameters already bound (e.g. the id as $1).
  std::string set_sql(db::Params& params, std::string (*cast)(const std::string&)) const;
};
std::string no_cast(const std::string&);

// The `name` (required on create, 1..max_name characters) and `description` (at most 2000,
// null clears it) every resource has, into `values`; the name is kept for conflict messages.
void read_name_and_description(api::BodyReader& r, bool create, std::size_t max_name, ColumnValues& values,
                               std::string& name);

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

// What the generic create/update/delete below need to know of a resource.
struct Resource {
  std::string table;                                         // "devices"
  std::string docs;                                          // view with id and doc: "device_docs"
  std::string kind;                                          // change events and flow references: "device"
  std::string what;                                          // in answers: "Device not found"
  std::string path;                                          // Location prefix: "/api/v1/devices/"
  std::string (*cast)(const std::string& column) = no_cast;  // SQL cast of a column's parameter
  std::string version_column = "version";                    // bumped by every update, sent in change events
};

// Work done in the write's transaction after the row is written (e.g. label membership):
// an answer refuses the whole write.
using InTransaction = std::function<Result<std::optional<http::Response>>(db::Session&, const std::string& id)>;

// INSERT, `also`, then 201 with the document and Location; announces "created".
http::Response create_row(Context& ctx, const Resource& r, const ColumnValues& values, std::string_view conflict,
                          const InTransaction& also = {});
// UPDATE <table> SET <version> + 1, updated_at, then `sets` (which uses `params`, $1 being the
// id), `also`, then 200 with the document; 404 for an unknown id; announces "updated".
http::Response update_row(Context& ctx, const Resource& r, const std::string& id, const std::string& sets,
                          const db::Params& params, std::string_view conflict, const InTransaction& also = {});
// 409 when an enabled flow uses it, 404 when unknown, else 204; announces "deleted".
http::Response delete_row(Context& ctx, const Resource& r, const std::string& id);

// Names of enabled flows whose nodes reference (kind, id); empty when none.
Result<std::vector<std::string>> enabled_flows_using(db::Session& s, std::string_view kind, std::string_view id);
// 409 "<What> is used by enabled flows: a, b" or nullopt when free to delete.
Result<std::optional<http::Response>> refuse_if_in_use(db::Session& s, std::string_view kind, std::string_view id,
                                                       std::string_view what);

// Process-wide handles and settings, set once by main() before any route runs and only
// read afterwards (by modules whose helpers have no Context at hand).
struct Wiring {
  bus::Connection* rpc = nullptr;  // low-latency request/reply connection (compile check)
  std::string outbound_allow;      // OUTBOUND_ALLOW from the service's configuration (.env included)
};
Wiring& wiring();

// Each resource module adds its routes.
void add_device_routes(http::Router& router, Context& ctx);
void add_internal_device_routes(http::Router& router, Context& ctx);
void add_label_routes(http::Router& router, Context& ctx);
void add_function_routes(http::Router& router, Context& ctx);
void add_integration_routes(http::Router& router, Context& ctx);
void add_storage_routes(http::Router& router, Context& ctx);
void add_flow_routes(http::Router& router, Context& ctx);
void add_search_routes(http::Router& router, Context& ctx);

}  // namespace dm::registry
