// /api/v1/flows: CRUD of flow graphs (checked by flow_graph.cpp, referenced entities
// checked here), and /internal/v1/flows: the orchestrator's normalised view, reachable
// only over NATS (the gateway does not route it).
#include <map>
#include <set>

#include "common.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "flow_graph.hpp"

namespace dm::registry {
namespace {

using TxResult = Result<http::Response>;

// Fields a client may send back unchanged from a GET; they are ignored, not rejected.
const std::vector<std::string> kKnown = {"name",   "description", "enabled", "nodes",      "edges",
                                         "layout", "id",          "version", "created_at", "updated_at"};

// Stored graphs were accepted under the request limits; reading them back must not refuse them.
constexpr json::Limits kStoredLimits{.max_bytes = 64 << 20, .max_depth = 128};

struct EntityKind {
  const char* type;   // node type
  const char* table;  // registry table holding the entities
  const char* title;  // for messages
};
constexpr EntityKind kKinds[] = {{"device", "devices", "Device"},
                                 {"label", "labels", "Label"},
                                 {"function", "functions", "Function"},
                                 {"integration", "integrations", "Integration"},
                                 {"storage", "storages", "Storage"}};

struct FlowInput {
  std::vector<std::pair<std::string, db::Param>> columns;  // column → text value (cast in SQL)
  const json::Value* nodes = nullptr;                      // given in the body (null counts as [])
  const json::Value* edges = nullptr;
  std::optional<bool> enabled;
  std::string name;
};

std::string cast_of(const std::string& column) {
  if (column == "nodes" || column == "edges" || column == "layout") return "::jsonb";
  if (column == "enabled") return "::boolean";
  return "";
}

// Stands for a list the body left out (create) or sent as null.
const json::Value kEmptyList(rapidjson::kArrayType);

// A list member: the value, or nullptr when absent; explicit null reads as an empty list.
const json::Value* list_member(api::BodyReader& r, const char* name) {
  const auto* v = r.raw(name);
  if (v && v->IsNull()) return &kEmptyList;
  return v;
}

// Reads a create (name required) or an update (every field optional) body. Graph rules
// are checked later, against the graph as it will be stored.
std::optional<http::Response> read_flow(const json::Value& body, bool create, FlowInput& in) {
  api::BodyReader r(body);
  r.forbid_unknown(kKnown);
  if (auto v = r.string("name", {.required = create, .min = 1, .max = 255})) {
    in.name = *v;
    in.columns.emplace_back("name", *v);
  }
  if (auto v = r.string("description", {.max = 2000, .nullable = true}))
    in.columns.emplace_back("description", *v);
  else if (r.is_null("description"))
    in.columns.emplace_back("description", std::string());
  if ((in.enabled = r.boolean("enabled"))) in.columns.emplace_back("enabled", *in.enabled ? "true" : "false");
  if (r.is_null("layout"))
    in.columns.emplace_back("layout", "{}");
  else if (auto v = r.object_json("layout"))
    in.columns.emplace_back("layout", *v);
  in.nodes = list_member(r, "nodes");
  in.edges = list_member(r, "edges");
  if (!r.ok()) return r.response();
  return std::nullopt;
}

std::vector<api::FieldError> field_errors(std::vector<GraphError> errors) {
  std::vector<api::FieldError> out;
  for (auto& e : errors) out.push_back({std::move(e.loc), std::move(e.msg), std::move(e.type)});
  return out;
}

// "{a,b}": a uuid[] literal (the ids are validated UUIDs, nothing to escape).
std::string uuid_array(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (const auto& id : ids) out += (out.size() > 1 ? "," : "") + id;
  return out + "}";
}

// 422 naming every node whose entity does not exist. The rows found are locked (KEY
// SHARE) until commit, so a concurrent delete of one of them waits for this save and
// then sees the new flow_refs rows.
Result<std::optional<http::Response>> refuse_missing_entities(db::Session& s, const FlowGraph& g) {
  std::vector<api::FieldError> errors;
  for (const auto& kind : kKinds) {
    std::vector<std::string> ids;
    for (const auto& n : g.nodes) {
      if (n.type == kind.type) ids.push_back(n.entity_id);
    }
    if (ids.empty()) continue;
    DM_ASSIGN_OR_RETURN(auto rows, s.exec(std::string("SELECT id::text FROM ") + kind.table +
                                              " WHERE id = ANY($1::uuid[]) FOR KEY SHARE",
                                          {uuid_array(ids)}));
    std::set<std::string> found;
    for (std::size_t i = 0; i < rows.size(); ++i) found.emplace(rows.get(i, 0));
    for (const auto& n : g.nodes) {
      if (n.type != kind.type || found.count(n.entity_id)) continue;
      errors.push_back({{"body", "nodes", std::to_string(n.index), "data", n.entity_key},
                        std::string(kind.title) + " " + n.entity_id + " (node '" + n.id + "') does not exist",
                        "value_error"});
    }
  }
  if (errors.empty()) return std::optional<http::Response>{};
  return std::optional<http::Response>(api::validation_error(errors));
}

// flow_refs mirrors the nodes: which entities this flow uses (for "in use" checks).
Result<void> replace_refs(db::Session& s, const std::string& flow_id, const FlowGraph& g) {
  DM_TRY(s.exec("DELETE FROM flow_refs WHERE flow_id = $1::uuid", {flow_id}));
  if (g.nodes.empty()) return ok();
  json::Writer w;
  w.start_array();
  for (const auto& n : g.nodes) {
    w.start_object().field("node_id", n.id).field("kind", n.type).field("entity_id", n.entity_id).end_object();
  }
  w.end_array();
  DM_TRY(
      s.exec("INSERT INTO flow_refs (flow_id, node_id, kind, entity_id) "
             "SELECT $1::uuid, r->>'node_id', r->>'kind', (r->>'entity_id')::uuid FROM json_array_elements($2::json) r",
             {flow_id, std::string(w.view())}));
  return ok();
}

// The graph as it will be stored: the body's parts, else the stored ones.
struct GraphSource {
  const json::Value* nodes;
  const json::Value* edges;
};

// Checks the graph's rules and its entities; a response when refused.
Result<std::optional<http::Response>> check_flow(db::Session& s, GraphSource src, FlowGraph& graph) {
  auto checked = check_graph(*src.nodes, *src.edges);
  if (!checked.errors.empty()) {
    return std::optional<http::Response>(api::validation_error(field_errors(std::move(checked.errors))));
  }
  graph = std::move(checked.graph);
  return refuse_missing_entities(s, graph);
}

std::string conflict(const FlowInput& in) { return "A flow named '" + in.name + "' already exists"; }

// INSERT column list and values for the given columns (+ nodes/edges JSON).
struct Assignments {
  std::string names, values, sets;
  db::Params params;
};
Assignments assignments(const FlowInput& in, db::Params params) {
  Assignments a;
  a.params = std::move(params);
  auto add = [&](const std::string& col, db::Param v) {
    a.params.push_back(std::move(v));
    const std::string ref = "$" + std::to_string(a.params.size()) + cast_of(col);
    a.names += (a.names.empty() ? "" : ", ") + col;
    a.values += (a.values.empty() ? "" : ", ") + ref;
    a.sets += ", " + col + " = " + ref;
  };
  for (const auto& [col, v] : in.columns) add(col, v);
  if (in.nodes) add("nodes", json::to_string(*in.nodes));
  if (in.edges) add("edges", json::to_string(*in.edges));
  return a;
}

Result<http::Response> flow_doc(db::Session& s, const std::string& id, int status) {
  DM_ASSIGN_OR_RETURN(auto doc, s.exec("SELECT doc FROM flow_docs WHERE id = $1::uuid", {id}));
  return http::Response::json(status, std::string(doc.get(0, 0)));
}

http::Response create_flow(Context& ctx, const http::Request& req) {
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  FlowInput in;
  if (auto bad = read_flow(body.doc, true, in)) return *bad;
  const GraphSource src{in.nodes ? in.nodes : &kEmptyList, in.edges ? in.edges : &kEmptyList};
  auto a = assignments(in, {});
  std::string id;
  auto res = in_transaction(
      ctx.db,
      [&](db::Session& s) -> TxResult {
        FlowGraph graph;
        DM_ASSIGN_OR_RETURN(auto refused, check_flow(s, src, graph));
        if (refused) return std::move(*refused);
        DM_ASSIGN_OR_RETURN(
            auto ins, s.exec("INSERT INTO flows (" + a.names + ") VALUES (" + a.values + ") RETURNING id", a.params));
        id = std::string(ins.get(0, 0));
        DM_TRY(replace_refs(s, id, graph));
        DM_ASSIGN_OR_RETURN(auto created, flow_doc(s, id, 201));
        created.headers.set("Location", "/api/v1/flows/" + id);
        return created;
      },
      conflict(in));
  if (res.status == 201) ctx.events.changed("flow", "created", id, 1);
  return res;
}

// The stored state an update starts from (locked until commit).
struct StoredFlow {
  std::string nodes, edges;
  bool enabled = false;
};
Result<std::optional<StoredFlow>> lock_flow(db::Session& s, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT nodes::text, edges::text, enabled FROM flows WHERE id = $1::uuid "
                                        "FOR UPDATE",
                                        {id}));
  if (rows.empty()) return std::optional<StoredFlow>{};
  return std::optional<StoredFlow>(
      StoredFlow{std::string(rows.get(0, 0)), std::string(rows.get(0, 1)), rows.get_bool(0, 2)});
}

// Re-checks the graph when it changes, and the entities when a flow is enabled (they
// may have been deleted while it was disabled). Fills `graph` when the graph was checked.
Result<std::optional<http::Response>> check_update(db::Session& s, const FlowInput& in, const StoredFlow& stored,
                                                   FlowGraph& graph) {
  const bool enabling = in.enabled.value_or(false) && !stored.enabled;
  if (!in.nodes && !in.edges && !enabling) return std::optional<http::Response>{};
  json::Document stored_nodes, stored_edges;
  if (!in.nodes) {
    DM_ASSIGN_OR_RETURN(stored_nodes, json::parse(stored.nodes, kStoredLimits));
  }
  if (!in.edges) {
    DM_ASSIGN_OR_RETURN(stored_edges, json::parse(stored.edges, kStoredLimits));
  }
  return check_flow(s, {in.nodes ? in.nodes : &stored_nodes, in.edges ? in.edges : &stored_edges}, graph);
}

http::Response update_flow(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found("Flow");
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  FlowInput in;
  if (auto bad = read_flow(body.doc, false, in)) return *bad;
  auto a = assignments(in, {id});
  std::int64_t version = 0;
  auto res = in_transaction(
      ctx.db,
      [&](db::Session& s) -> TxResult {
        DM_ASSIGN_OR_RETURN(auto stored, lock_flow(s, id));
        if (!stored) return not_found("Flow");
        FlowGraph graph;
        DM_ASSIGN_OR_RETURN(auto refused, check_update(s, in, *stored, graph));
        if (refused) return std::move(*refused);
        DM_ASSIGN_OR_RETURN(auto upd, s.exec("UPDATE flows SET version = version + 1, updated_at = now()" + a.sets +
                                                 " WHERE id = $1::uuid RETURNING version",
                                             a.params));
        version = upd.get_int(0, 0);
        if (in.nodes) DM_TRY(replace_refs(s, id, graph));
        return flow_doc(s, id, 200);
      },
      conflict(in));
  if (res.status == 200) ctx.events.changed("flow", "updated", id, version);
  return res;
}

http::Response list_flows(Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto page = q.paging();
  auto sort = q.sort({"name", "created_at", "updated_at"}, {"name", false});
  auto enabled = q.boolean("enabled");
  auto text = q.string("search");
  if (!q.ok()) return q.response();
  db::Params params{enabled ? db::Param(*enabled ? "true" : "false") : std::nullopt,
                    text ? db::Param("%" + *text + "%") : std::nullopt};
  const std::string where =
      " WHERE ($1::boolean IS NULL OR v.enabled = $1::boolean)"
      " AND ($2::text IS NULL OR v.name ILIKE $2 OR v.description ILIKE $2)";
  return list_page(ctx, "flow_docs", where, std::move(params), sort, page);
}

http::Response delete_flow(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found("Flow");
  auto del = ctx.db.exec("DELETE FROM flows WHERE id = $1::uuid RETURNING version", {id});  // refs cascade
  if (!del) return store_error(del.error());
  if (del->empty()) return not_found("Flow");
  ctx.events.changed("flow", "deleted", id, del->get_int(0, 0) + 1);  // a deletion is a change too
  return http::Response::empty(204);
}

// One stored flow in the orchestrator's shape; false (logged) if its graph cannot be read,
// which only a manual edit of the table could cause.
bool write_internal(json::Writer& w, const db::Rows& rows, std::size_t i) {
  auto nodes = json::parse(rows.get(i, 4), kStoredLimits);
  auto edges = json::parse(rows.get(i, 5), kStoredLimits);
  if (!nodes || !edges) return false;
  auto checked = check_graph(*nodes, *edges);
  if (!checked.errors.empty()) {
    log::warn("stored flow graph is invalid; left out of the orchestrator's view",
              {{"flow", rows.get(i, 0)}, {"error", checked.errors.front().msg}});
    return false;
  }
  w.start_object()
      .field("id", rows.get(i, 0))
      .field("name", rows.get(i, 1))
      .field("enabled", rows.get_bool(i, 2))
      .field("version", rows.get_int(i, 3));
  write_normalised(w, checked.graph);
  w.end_object();
  return true;
}

const char* const kInternalSelect = "SELECT id, name, enabled, version, nodes::text, edges::text FROM flows ";

http::Response internal_list(Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto enabled = q.boolean("enabled");
  if (!q.ok()) return q.response();
  auto rows =
      ctx.db.exec(std::string(kInternalSelect) + "WHERE ($1::boolean IS NULL OR enabled = $1::boolean) ORDER BY id",
                  {enabled ? db::Param(*enabled ? "true" : "false") : std::nullopt});
  if (!rows) return store_error(rows.error());
  json::Writer w;
  w.start_array();
  for (std::size_t i = 0; i < rows->size(); ++i) write_internal(w, *rows, i);
  w.end_array();
  return http::Response::json(200, w.take());
}

http::Response internal_get(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found("Flow");
  auto rows = ctx.db.exec(std::string(kInternalSelect) + "WHERE id = $1::uuid", {id});
  if (!rows) return store_error(rows.error());
  if (rows->empty()) return not_found("Flow");
  json::Writer w;
  if (!write_internal(w, *rows, 0)) return http::Response::error(500, "Stored flow graph is invalid");
  return http::Response::json(200, w.take());
}

}  // namespace

void add_flow_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/flows", [&ctx](const http::Request& req) { return list_flows(ctx, req); });
  router.add_sync("POST", "/api/v1/flows", [&ctx](const http::Request& req) { return create_flow(ctx, req); });
  router.add_sync("GET", "/api/v1/flows/{id}", [&ctx](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (!api::is_uuid(id)) return not_found("Flow");
    auto rows = ctx.db.exec("SELECT doc FROM flow_docs WHERE id = $1::uuid", {id});
    if (!rows) return store_error(rows.error());
    if (rows->empty()) return not_found("Flow");
    return http::Response::json(200, std::string(rows->get(0, 0)));
  });
  auto update = [&ctx](const http::Request& req) { return update_flow(ctx, req); };
  router.add_sync("PUT", "/api/v1/flows/{id}", update);
  router.add_sync("PATCH", "/api/v1/flows/{id}", update);
  router.add_sync("DELETE", "/api/v1/flows/{id}", [&ctx](const http::Request& req) { return delete_flow(ctx, req); });

  // Not in the gateway's table: only services reach these, over NATS.
  router.add_sync("GET", "/internal/v1/flows", [&ctx](const http::Request& req) { return internal_list(ctx, req); });
  router.add_sync("GET", "/internal/v1/flows/{id}",
                  [&ctx](const http::Request& req) { return internal_get(ctx, req); });
}

}  // namespace dm::registry
