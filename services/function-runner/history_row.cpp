#include "history_row.hpp"

#include "dm/json/json.hpp"

namespace dm::function_runner {

std::string row_json(const HistoryRow& r) {
  json::Writer w;
  w.start_object().field("run_id", r.run_id).field("function_id", r.function_id).field("version", r.version);
  w.field_or_null("flow_id", r.flow_id).field_or_null("flow_run_id", r.flow_run_id).field_or_null("node_id", r.node_id);
  w.field_or_null("dev_eui", r.dev_eui).field("replay", r.replay).field("status", r.status);
  w.key("input").raw(r.input).key("output");
  if (r.output)
    w.raw(*r.output);
  else
    w.null();
  w.key("logs").raw(r.logs).key("error");
  if (r.error)
    w.raw(*r.error);
  else
    w.null();
  w.field("duration_ms", r.duration_ms).field("created_at", r.at).end_object();
  return w.take();
}

namespace {

std::optional<std::string> document(const json::Value& row, std::string_view key) {
  const auto* v = json::find(row, key);
  if (!v || v->IsNull()) return std::nullopt;
  return json::to_string(*v);
}

std::optional<std::string> text(const json::Value& row, std::string_view key) {
  auto v = json::opt_string(row, key);
  return v && *v ? std::optional<std::string>(std::string(**v)) : std::nullopt;
}

}  // namespace

Result<HistoryRow> row_from_json(std::string_view text_in) {
  DM_ASSIGN_OR_RETURN(auto doc, json::parse(text_in, {.max_bytes = 256u << 20, .max_depth = 256}));
  if (!doc.IsObject()) return Error(Errc::invalid_argument, "a function run must be a JSON object");
  HistoryRow r;
  DM_ASSIGN_OR_RETURN(auto run_id, json::get_string(doc, "run_id"));
  DM_ASSIGN_OR_RETURN(auto function_id, json::get_string(doc, "function_id"));
  DM_ASSIGN_OR_RETURN(r.version, json::get_int(doc, "version"));
  DM_ASSIGN_OR_RETURN(r.replay, json::get_bool(doc, "replay"));
  DM_ASSIGN_OR_RETURN(auto status, json::get_string(doc, "status"));
  DM_ASSIGN_OR_RETURN(r.duration_ms, json::get_number(doc, "duration_ms"));
  DM_ASSIGN_OR_RETURN(auto at, json::get_string(doc, "created_at"));
  auto input = document(doc, "input");
  if (!input) return Error(Errc::invalid_argument, "field 'input' is required");
  r.run_id = run_id;
  r.function_id = function_id;
  r.status = status;
  r.at = at;
  r.input = std::move(*input);
  r.output = document(doc, "output");
  r.error = document(doc, "error");
  r.logs = document(doc, "logs").value_or("[]");
  r.flow_id = text(doc, "flow_id");
  r.flow_run_id = text(doc, "flow_run_id");
  r.node_id = text(doc, "node_id");
  r.dev_eui = text(doc, "dev_eui");
  return r;
}

}  // namespace dm::function_runner
