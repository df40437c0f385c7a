#include "history.hpp"

#include <unordered_set>

#include "dm/api/query.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/uuid.hpp"
#include "dm/json/json.hpp"
#include "function_history.hpp"

namespace dm::flow_orchestrator {
namespace {

const std::vector<std::string> kColumns = {"id",          "run_key",   "flow_id",      "flow_version", "dedup_id",
                                           "dev_eui",     "device_id", "trigger_node", "status",       "path",
                                           "duration_ms", "replay",    "created_at"};

// The API document of a run, rendered by PostgreSQL.
const char* const kDoc =
    "json_build_object('id', r.id, 'flow_id', r.flow_id, 'flow_version', r.flow_version, 'run_key', r.run_key, "
    "'dedup_id', r.dedup_id, 'dev_eui', r.dev_eui, 'device_id', r.device_id, 'trigger_node', r.trigger_node, "
    "'status', r.status, 'path', r.path, 'duration_ms', r.duration_ms, 'replay', r.replay, "
    "'created_at', to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))";

http::Response db_error(const Error& e) {
  if (e.code == Errc::unavailable || e.code == Errc::timeout) return http::Response::error(503, "Database unavailable");
  log::error("flow history query failed", {{"error", e.message}});
  return http::Response::error(500, "Internal Server Error");
}

// GET list: optional flow id, paging, status, from/to; newest first; X-Total-Count.
http::Response list(db::Pool& db, const http::Request& req, const std::optional<std::string>& flow_id) {
  api::QueryReader q(req);
  auto page = q.paging();
  auto status = q.choice("status", {"success", "partial_success", "error", "filtered"});
  auto from = q.time("from");
  auto to = q.time("to");
  auto dev_eui = q.string("dev_eui", 16);
  if (!q.ok()) return q.response();
  std::string where =
      "WHERE ($1::text IS NULL OR r.flow_id = $1) AND ($2::text IS NULL OR r.status = $2) "
      "AND ($3::timestamptz IS NULL OR r.created_at >= $3::timestamptz) "
      "AND ($4::timestamptz IS NULL OR r.created_at < $4::timestamptz) AND ($5::text IS NULL OR r.dev_eui = lower($5))";
  db::Params params = {flow_id, status, from, to, dev_eui};
  auto total = db.exec("SELECT count(*) FROM flow_runs r " + where, params);
  if (!total) return db_error(total.error());
  params.push_back(std::to_string(page.limit));
  params.push_back(std::to_string(page.skip));
  auto rows = db.exec(std::string("SELECT ") + kDoc + " FROM flow_runs r " + where +
                          " ORDER BY r.created_at DESC, r.id LIMIT $6::bigint OFFSET $7::bigint",
                      params);
  if (!rows) return db_error(rows.error());
  std::string body = "[";
  for (std::size_t i = 0; i < rows->size(); ++i) {
    if (i) body += ',';
    body += rows->get(i, 0);
  }
  body += ']';
  auto resp = http::Response::json(200, std::move(body));
  resp.headers.set("X-Total-Count", std::to_string(total->get_int(0, 0)));
  return resp;
}

http::Response get_one(db::Pool& db, const http::Request& req) {
  const auto& flow_id = req.params.at("id");
  const auto& id = req.params.at("history_id");
  if (!api::is_uuid(id)) return http::Response::error(404, "Flow run not found");
  auto rows = db.exec(std::string("SELECT ") + kDoc + " FROM flow_runs r WHERE r.id = $1::uuid AND r.flow_id = $2",
                      {id, flow_id});
  if (!rows) return db_error(rows.error());
  if (rows->empty()) return http::Response::error(404, "Flow run not found");
  return http::Response::json(200, std::string(rows->get(0, 0)));
}

}  // namespace

Result<void> write_runs(db::Pool& db, const std::vector<const Run*>& runs) {
  if (runs.empty()) return ok();
  std::vector<db::Params> rows;
  rows.reserve(runs.size());
  for (const Run* r : runs) {
    rows.push_back({uuid_v7(), r->run_key, r->flow_id, std::to_string(r->flow_version), r->dedup_id, r->dev_eui,
                    r->device_id.empty() ? db::Param() : db::Param(r->device_id), r->trigger_node, r->status,
                    path_json(r->path), std::to_string(r->duration_ms), r->replay ? "true" : "false", r->at});
  }
  // A run and its function executions are stored together or not at all, and the executions
  // only with a run that is new: function_runs has no key of its own (migration 0006), the
  // run's unique run_key keeps them from being stored twice. COPY first, the common case; a
  // run stored already (its uplink delivered again after a crash, or stored twice upstream)
  // aborts that transaction, and the second one inserts the new runs, then their executions.
  auto functions = function_run_rows(runs);
  auto copied =
      db::copy_all(db, {{"flow_runs", kColumns, rows, {}}, {"function_runs", function_run_columns(), functions, {}}});
  if (copied.ok()) return ok();
  if (copied.error().code != Errc::conflict) return copied.take_error();
  return db.transaction([&](db::Session& s) -> Result<void> {
    // RETURNING names only the runs inserted here: one another writer is storing meanwhile
    // waits for its commit and is then left out, with its executions.
    DM_ASSIGN_OR_RETURN(auto inserted, db::insert_rows_returning(s, "flow_runs", kColumns, rows,
                                                                 "ON CONFLICT (run_key) DO NOTHING RETURNING run_key"));
    std::unordered_set<std::string> keys;
    for (std::size_t i = 0; i < inserted.size(); ++i) keys.insert(std::string(inserted.get(i, 0)));
    std::vector<const Run*> fresh;
    for (const Run* r : runs) {
      if (keys.count(r->run_key)) fresh.push_back(r);
    }
    DM_TRY(db::insert_rows(s, "function_runs", function_run_columns(), function_run_rows(fresh)));
    return ok();
  });
}

void announce_runs(bus::Connection& nats, const std::vector<const Run*>& runs) {
  for (const Run* r : runs) {
    for (const auto& f : r->functions)
      (void)nats.publish(contract::subject::function_run(f.function_id), function_run_json(*r, f));
    if (auto p = nats.publish(contract::subject::flow_completed(r->flow_id), completed_json(*r)); !p)
      log::warn("flow-completed event not published", {{"flow", r->flow_id}, {"error", p.error().message}});
  }
}

Result<void> recorded_runs(db::Pool& db, const std::vector<std::string>& keys, std::unordered_set<std::string>& out) {
  if (keys.empty()) return ok();
  DM_ASSIGN_OR_RETURN(auto rows,
                      db.exec("SELECT run_key FROM flow_runs WHERE run_key = ANY($1::text[])", {db::text_array(keys)}));
  for (std::size_t i = 0; i < rows.size(); ++i) out.insert(std::string(rows.get(i, 0)));
  return ok();
}

Result<std::string> runs_document(db::Pool& db, const std::vector<std::string>& keys) {
  if (keys.empty()) return std::string("[]");
  DM_ASSIGN_OR_RETURN(auto rows, db.exec(std::string("SELECT coalesce(json_agg(") + kDoc +
                                             " ORDER BY r.created_at, r.id), '[]')::text FROM flow_runs r "
                                             "WHERE r.run_key = ANY($1::text[])",
                                         {db::text_array(keys)}));
  return std::string(rows.get(0, 0));
}

Result<std::size_t> purge_runs(db::Pool& db, int days) {
  DM_ASSIGN_OR_RETURN(auto rows,
                      db.exec("DELETE FROM flow_runs WHERE created_at < now() - make_interval(days => $1::int)",
                              {std::to_string(days)}));
  DM_ASSIGN_OR_RETURN(auto functions, purge_function_runs(db, days));
  return rows.affected() + functions;
}

void add_history_routes(http::Router& router, db::Pool& db) {
  router.add_sync("GET", "/api/v1/flows/history",
                  [&db](const http::Request& req) { return list(db, req, std::nullopt); });
  router.add_sync("GET", "/api/v1/flows/{id}/history",
                  [&db](const http::Request& req) { return list(db, req, req.params.at("id")); });
  router.add_sync("GET", "/api/v1/flows/{id}/history/{history_id}",
                  [&db](const http::Request& req) { return get_one(db, req); });
}

}  // namespace dm::flow_orchestrator
