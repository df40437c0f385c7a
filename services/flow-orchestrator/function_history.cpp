#include "function_history.hpp"

#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "dm/json/json.hpp"

namespace dm::flow_orchestrator {

const std::vector<std::string>& function_run_columns() {
  static const std::vector<std::string> kColumns = {"run_id",  "function_id", "version", "flow_id",     "flow_run_id",
                                                    "node_id", "dev_eui",     "replay",  "status",      "input",
                                                    "output",  "logs",        "error",   "duration_ms", "created_at"};
  return kColumns;
}

std::vector<db::Params> function_run_rows(const std::vector<const Run*>& runs) {
  std::vector<db::Params> rows;
  for (const Run* r : runs) {
    for (const auto& f : r->functions) {
      rows.push_back({f.run_id, f.function_id, std::to_string(f.version), r->flow_id, r->run_key, f.node_id, r->dev_eui,
                      r->replay ? "true" : "false", f.status, f.input, f.output, f.logs, f.error,
                      std::to_string(f.duration_ms), r->at});
    }
  }
  return rows;
}

std::string function_run_json(const Run& run, const FunctionRun& f) {
  json::Writer w;
  w.start_object().field("run_id", f.run_id).field("function_id", f.function_id).field("version", f.version);
  w.field("flow_id", run.flow_id).field("flow_run_id", run.run_key).field("node_id", f.node_id);
  w.field("dev_eui", run.dev_eui).field("status", f.status).field("duration_ms", f.duration_ms);
  w.key("error");
  if (f.error)
    w.raw(*f.error);
  else
    w.null();
  w.key("logs").raw(f.logs).field("replay", run.replay).field("at", run.at).end_object();
  return w.take();
}

Result<std::size_t> purge_function_runs(db::Pool& db, int days) {
  DM_ASSIGN_OR_RETURN(auto rows,
                      db.exec("DELETE FROM function_runs WHERE created_at < now() - make_interval(days => $1::int)",
                              {std::to_string(days)}));
  return rows.affected();
}

namespace {

http::Response history_error(const Error& e) {
  log::error("function history query failed", {{"error", e.message}});
  if (e.code == Errc::unavailable || e.code == Errc::timeout)
    return http::Response::error(503, "Function history is unavailable");
  return http::Response::error(500, "Internal Server Error");
}

http::Response history(db::Pool& db, const http::Request& req, const std::string* function_id) {
  api::QueryReader q(req);
  auto page = q.paging();
  auto status = q.choice("status", {"success", "error", "filtered", "timeout"});
  auto from = q.time("from");
  auto to = q.time("to");
  if (!q.ok()) return q.response();
  db::Params params{function_id ? db::Param(*function_id) : std::nullopt, status, from, to};
  const std::string where =
      " WHERE ($1::text IS NULL OR function_id = $1) AND ($2::text IS NULL OR status = $2)"
      " AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)";
  auto count = db.exec("SELECT count(*) FROM function_runs" + where, params);
  if (!count) return history_error(count.error());
  params.push_back(std::to_string(page.limit));
  params.push_back(std::to_string(page.skip));
  auto rows = db.exec(
      "SELECT coalesce(json_agg(json_build_object('id', run_id, 'function_id', function_id, 'version', version,"
      " 'flow_id', flow_id, 'flow_run_id', flow_run_id, 'node_id', node_id, 'dev_eui', dev_eui, 'replay', replay,"
      " 'status', status, 'input', input, 'output', output, 'logs', logs, 'error', error,"
      " 'duration_ms', duration_ms, 'created_at', to_char(created_at AT TIME ZONE 'UTC',"
      " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) ORDER BY created_at DESC, run_id), '[]')"
      " FROM (SELECT * FROM function_runs" +
          where + " ORDER BY created_at DESC, run_id LIMIT $5 OFFSET $6) r",
      params);
  if (!rows) return history_error(rows.error());
  auto res = http::Response::json(200, std::string(rows->get(0, 0)));
  res.headers.set("X-Total-Count", std::to_string(count->get_int(0, 0)));
  return res;
}

}  // namespace

void add_function_history_routes(http::Router& router, db::Pool& db) {
  router.add_sync("GET", "/api/v1/functions/history",
                  [&db](const http::Request& r) { return history(db, r, nullptr); });
  router.add_sync("GET", "/api/v1/functions/{id}/history",
                  [&db](const http::Request& r) { return history(db, r, &r.params.at("id")); });
}

}  // namespace dm::flow_orchestrator
