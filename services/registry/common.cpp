#include "common.hpp"

#include <map>

#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/time.hpp"
#include "dm/json/json.hpp"

namespace dm::registry {

Wiring& wiring() {
  static Wiring w;
  return w;
}

void Events::changed(std::string_view kind, std::string_view action, std::string_view id, std::int64_t version) {
  json::Writer w;
  w.start_object()
      .field("kind", kind)
      .field("action", action)
      .field("id", id)
      .field("version", version)
      .field("at", format_rfc3339(now()))
      .end_object();
  invalidate_reads();
  if (auto r = nats_.publish(contract::subject::registry_changed(kind), w.view()); !r) {
    // The change is committed; caches fall back to their periodic refresh.
    log::warn("change event not published", {{"kind", kind}, {"id", id}, {"error", r.error().message}});
  }
}

void Events::invalidate_reads() {
  cache_.invalidate();
  // Other replicas clear theirs; ours hears its own message too, which is harmless.
  if (auto r = nats_.publish(kInvalidateSubject, "{}"); !r) {
    log::warn("cache invalidation not published", {{"error", r.error().message}});
  }
}

http::Response store_error(const Error& e, std::string_view conflict_detail) {
  switch (e.code) {
    case Errc::conflict:
      return http::Response::error(409, conflict_detail.empty() ? std::string_view(e.message) : conflict_detail);
    case Errc::not_found:
      return http::Response::error(404, e.message);
    case Errc::invalid_argument:
      return http::Response::error(422, e.message);
    case Errc::unavailable:
    case Errc::timeout:
      log::warn("database unavailable", {{"error", e.message}});
      return http::Response::error(503, "Database unavailable, try again");
    default:
      log::error("store error", {{"error", e.message}});
      return http::Response::error(500, "Internal Server Error");
  }
}

http::Response list_response(const db::Rows& rows, std::int64_t total) {
  auto res = http::Response::json(200, json_array(rows));
  res.headers.set("X-Total-Count", std::to_string(total));
  return res;
}

http::Response not_found(std::string_view what) { return http::Response::error(404, std::string(what) + " not found"); }

namespace {

http::Response cached_response(const CachedAnswer& a) {
  auto res = http::Response::json(200, a.body);
  if (a.total >= 0) res.headers.set("X-Total-Count", std::to_string(a.total));
  return res;
}

// Remembers a successful answer under `key` (read at `generation`).
void remember(Context& ctx, const std::string& key, const http::Response& res, std::uint64_t generation) {
  if (!ctx.cache || res.status != 200) return;
  std::int64_t total = -1;
  if (auto t = res.headers.get("X-Total-Count")) total = std::stoll(*t);
  ctx.cache->put(key, {res.body, total}, generation);
}

}  // namespace

http::Response get_doc(Context& ctx, std::string_view view, const std::string& id, std::string_view what) {
  if (!api::is_uuid(id)) return not_found(what);
  std::string key = std::string(view) + "/" + id;
  std::uint64_t generation = ctx.cache ? ctx.cache->generation() : 0;
  if (ctx.cache) {
    if (auto hit = ctx.cache->get(key)) return cached_response(*hit);
  }
  auto rows = ctx.db.exec("SELECT doc FROM " + std::string(view) + " WHERE id = $1::uuid", {id});
  if (!rows) return store_error(rows.error());
  if (rows->empty()) return not_found(what);
  auto res = http::Response::json(200, std::string(rows->get(0, 0)));
  remember(ctx, key, res, generation);
  return res;
}

http::Response list_page(Context& ctx, std::string_view view, const std::string& where, db::Params params,
                         const api::Sort& sort, const api::Paging& page) {
  std::string key = std::string(view) + "?" + sort.column + (sort.descending ? "-" : "+") + std::to_string(page.skip) +
                    "," + std::to_string(page.limit);
  for (const auto& p : params) key += p ? "|=" + *p : "|null";
  std::uint64_t generation = ctx.cache ? ctx.cache->generation() : 0;
  if (ctx.cache) {
    if (auto hit = ctx.cache->get(key)) return cached_response(*hit);
  }
  const std::string from = " FROM " + std::string(view) + " v" + where;
  auto count = ctx.db.exec("SELECT count(*)" + from, params);
  if (!count) return store_error(count.error());
  params.push_back(std::to_string(page.limit));
  params.push_back(std::to_string(page.skip));
  const auto n = params.size();
  auto rows = ctx.db.exec("SELECT v.doc" + from + " ORDER BY v." + sort.column +
                              (sort.descending ? " DESC NULLS LAST" : " ASC NULLS LAST") + ", v.id LIMIT $" +
                              std::to_string(n - 1) + " OFFSET $" + std::to_string(n),
                          params);
  if (!rows) return store_error(rows.error());
  auto res = list_response(*rows, count->get_int(0, 0));
  remember(ctx, key, res, generation);
  return res;
}

std::string no_cast(const std::string&) { return {}; }

void read_name_and_description(api::BodyReader& r, bool create, std::size_t max_name, ColumnValues& values,
                               std::string& name) {
  if (auto v = r.string("name", {.required = create, .min = 1, .max = max_name})) {
    name = *v;
    values.columns.emplace_back("name", *v);
  }
  if (auto v = r.string("description", {.max = 2000, .nullable = true}))
    values.columns.emplace_back("description", *v);
  else if (r.is_null("description"))
    values.columns.emplace_back("description", std::string());
}

std::pair<std::string, db::Params> ColumnValues::insert_sql(std::string_view table,
                                                            std::string (*cast)(const std::string&)) const {
  std::string cols, vals;
  db::Params params;
  for (const auto& [col, v] : columns) {
    params.push_back(v);
    cols += (cols.empty() ? "" : ", ") + col;
    vals += (vals.empty() ? "$" : ", $") + std::to_string(params.size()) + cast(col);
  }
  return {"INSERT INTO " + std::string(table) + " (" + cols + ") VALUES (" + vals + ") RETURNING id", params};
}

std::string ColumnValues::set_sql(db::Params& params, std::string (*cast)(const std::string&)) const {
  std::string sets;
  for (const auto& [col, v] : columns) {
    params.push_back(v);
    sets += ", " + col + " = $" + std::to_string(params.size()) + cast(col);
  }
  return sets;
}

Result<std::vector<std::string>> enabled_flows_using(db::Session& s, std::string_view kind, std::string_view id) {
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT DISTINCT f.name FROM flow_refs r JOIN flows f ON f.id = r.flow_id "
                                        "WHERE r.kind = $1 AND r.entity_id = $2::uuid AND f.enabled ORDER BY f.name",
                                        {std::string(kind), std::string(id)}));
  std::vector<std::string> names;
  for (std::size_t i = 0; i < rows.size(); ++i) names.emplace_back(rows.get(i, 0));
  return names;
}

Result<std::optional<http::Response>> refuse_if_in_use(db::Session& s, std::string_view kind, std::string_view id,
                                                       std::string_view what) {
  // Lock the entity first: a flow saved between this check and the DELETE would otherwise
  // be left enabled and pointing at nothing (flow saves lock referenced rows FOR KEY SHARE).
  static const std::map<std::string_view, std::string> tables = {{"device", "devices"},
                                                                 {"label", "labels"},
                                                                 {"function", "functions"},
                                                                 {"integration", "integrations"},
                                                                 {"storage", "storages"}};
  if (auto t = tables.find(kind); t != tables.end()) {
    DM_TRY(s.exec("SELECT 1 FROM " + t->second + " WHERE id = $1::uuid FOR UPDATE", {std::string(id)}));
  }
  DM_ASSIGN_OR_RETURN(auto names, enabled_flows_using(s, kind, id));
  if (names.empty()) return std::optional<http::Response>{};
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return std::optional<http::Response>(
      http::Response::error(409, std::string(what) + " is used by enabled flows: " + list));
}

namespace {
using TxResult = Result<http::Response>;

Result<std::optional<http::Response>> run_also(const InTransaction& also, db::Session& s, const std::string& id) {
  if (!also) return std::optional<http::Response>{};
  return also(s, id);
}

Result<http::Response> doc_of(db::Session& s, const Resource& r, const std::string& id, int status) {
  DM_ASSIGN_OR_RETURN(auto doc, s.exec("SELECT doc FROM " + r.docs + " WHERE id = $1::uuid", {id}));
  return http::Response::json(status, std::string(doc.get(0, 0)));
}
}  // namespace

http::Response create_row(Context& ctx, const Resource& r, const ColumnValues& values, std::string_view conflict,
                          const InTransaction& also) {
  auto [insert, params] = values.insert_sql(r.table, r.cast);
  std::string id;
  auto res = in_transaction(
      ctx.db,
      [&](db::Session& s) -> TxResult {
        DM_ASSIGN_OR_RETURN(auto ins, s.exec(insert, params));
        id = std::string(ins.get(0, 0));
        DM_ASSIGN_OR_RETURN(auto refused, run_also(also, s, id));
        if (refused) return std::move(*refused);
        DM_ASSIGN_OR_RETURN(auto created, doc_of(s, r, id, 201));
        created.headers.set("Location", r.path + id);
        return created;
      },
      conflict);
  if (res.status == 201) ctx.events.changed(r.kind, "created", id, 1);
  return res;
}

http::Response update_row(Context& ctx, const Resource& r, const std::string& id, const std::string& sets,
                          const db::Params& params, std::string_view conflict, const InTransaction& also) {
  std::int64_t version = 0;
  auto res = in_transaction(
      ctx.db,
      [&](db::Session& s) -> TxResult {
        DM_ASSIGN_OR_RETURN(auto upd, s.exec("UPDATE " + r.table + " SET " + r.version_column + " = " +
                                                 r.version_column + " + 1, updated_at = now()" + sets +
                                                 " WHERE id = $1::uuid RETURNING " + r.version_column,
                                             params));
        if (upd.empty()) return not_found(r.what);
        version = upd.get_int(0, 0);
        DM_ASSIGN_OR_RETURN(auto refused, run_also(also, s, id));
        if (refused) return std::move(*refused);
        return doc_of(s, r, id, 200);
      },
      conflict);
  if (res.status == 200) ctx.events.changed(r.kind, "updated", id, version);
  return res;
}

http::Response delete_row(Context& ctx, const Resource& r, const std::string& id) {
  if (!api::is_uuid(id)) return not_found(r.what);
  std::int64_t version = 0;
  auto res = in_transaction(ctx.db, [&](db::Session& s) -> TxResult {
    DM_ASSIGN_OR_RETURN(auto in_use, refuse_if_in_use(s, r.kind, id, r.what));
    if (in_use) return std::move(*in_use);
    DM_ASSIGN_OR_RETURN(auto del,
                        s.exec("DELETE FROM " + r.table + " WHERE id = $1::uuid RETURNING " + r.version_column, {id}));
    if (del.empty()) return not_found(r.what);
    version = del.get_int(0, 0) + 1;  // a deletion is one more change: consumers order events by version
    return http::Response::empty(204);
  });
  if (res.status == 204) ctx.events.changed(r.kind, "deleted", id, version);
  return res;
}

}  // namespace dm::registry
