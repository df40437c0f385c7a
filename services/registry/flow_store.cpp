// Flows: the entities a graph names, the flow_refs that mirror its nodes, and the rows the
// orchestrator reads. The graph rules themselves are flow_graph.cpp's.
#include "dm/json/json.hpp"
#include "store.hpp"
#include "store_rows.hpp"

namespace dm::registry::store {
namespace {

const char* const kFlowRow = "SELECT id, name, enabled, version, nodes::text, edges::text FROM flows ";

FlowRow flow_row_at(const db::Rows& rows, std::size_t i) {
  return {.id = std::string(rows.get(i, 0)),
          .name = std::string(rows.get(i, 1)),
          .enabled = rows.get_bool(i, 2),
          .version = rows.get_int(i, 3),
          .nodes = std::string(rows.get(i, 4)),
          .edges = std::string(rows.get(i, 5))};
}

}  // namespace

Result<std::set<std::string>> existing_ids(db::Session& s, Kind kind, const std::vector<std::string>& ids) {
  DM_ASSIGN_OR_RETURN(auto rows,
                      s.exec("SELECT id::text FROM " + table(kind) + " WHERE id = ANY($1::uuid[]) FOR KEY SHARE",
                             {db::text_array(ids)}));
  std::set<std::string> found;
  for (std::size_t i = 0; i < rows.size(); ++i) found.emplace(rows.get(i, 0));
  return found;
}

Result<void> replace_flow_refs(db::Session& s, const std::string& flow_id, const std::vector<FlowNode>& nodes) {
  DM_TRY(s.exec("DELETE FROM flow_refs WHERE flow_id = $1::uuid", {flow_id}));
  if (nodes.empty()) return ok();
  json::Writer w;
  w.start_array();
  for (const auto& n : nodes) {
    w.start_object().field("node_id", n.id).field("kind", word(*n.type)).field("entity_id", n.entity_id).end_object();
  }
  w.end_array();
  DM_TRY(
      s.exec("INSERT INTO flow_refs (flow_id, node_id, kind, entity_id) "
             "SELECT $1::uuid, r->>'node_id', r->>'kind', (r->>'entity_id')::uuid FROM json_array_elements($2::json) r",
             {flow_id, std::string(w.view())}));
  return ok();
}

Result<std::optional<StoredGraph>> lock_flow(db::Session& s, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT nodes::text, edges::text, enabled FROM flows WHERE id = $1::uuid "
                                        "FOR UPDATE",
                                        {id}));
  if (rows.empty()) return std::optional<StoredGraph>{};
  return std::optional<StoredGraph>(StoredGraph{
      .nodes = std::string(rows.get(0, 0)), .edges = std::string(rows.get(0, 1)), .enabled = rows.get_bool(0, 2)});
}

Result<std::vector<FlowRow>> flow_rows(db::Pool& db, std::optional<bool> enabled) {
  DM_ASSIGN_OR_RETURN(
      auto rows, db.exec(std::string(kFlowRow) + "WHERE ($1::boolean IS NULL OR enabled = $1::boolean) ORDER BY id",
                         {bool_param(enabled)}));
  std::vector<FlowRow> out;
  for (std::size_t i = 0; i < rows.size(); ++i) out.push_back(flow_row_at(rows, i));
  return out;
}

Result<std::optional<FlowRow>> flow_row(db::Pool& db, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, db.exec(std::string(kFlowRow) + "WHERE id = $1::uuid", {id}));
  if (rows.empty()) return std::optional<FlowRow>{};
  return std::optional<FlowRow>(flow_row_at(rows, 0));
}

}  // namespace dm::registry::store
