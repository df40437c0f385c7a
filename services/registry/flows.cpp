// /api/v1/flows: CRUD of flow graphs (checked by flow_graph.cpp, referenced entities
// checked here), and /internal/v1/flows: the orchestrator's normalised view, reachable
// only over NATS (the gateway does not route it).
#include "dm/core/log.hpp"
#include "dm/core/strings.hpp"
#include "flow_graph.hpp"
#include "resource.hpp"
#include "routes.hpp"

namespace dm::registry {
namespace {

// Fields a client may send back unchanged from a GET; they are ignored, not rejected.
const std::vector<std::string> kKnown = {"name",   "description", "enabled", "nodes",      "edges",
                                         "layout", "id",          "version", "created_at", "updated_at"};

// Stored graphs were accepted under the request limits; reading them back must not refuse them.
constexpr json::Limits kStoredLimits{.max_bytes = 64 << 20, .max_depth = 128};

// Stands for a list the body left out (create) or sent as null.
const json::Value kEmptyList(rapidjson::kArrayType);

struct FlowInput {
  store::Columns columns;
  const json::Value* nodes = nullptr;  // given in the body (null counts as [])
  const json::Value* edges = nullptr;
  std::optional<bool> enabled;
  std::string name;
};

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
  read_name_and_description(r, create, 255, in.columns, in.name);
  if ((in.enabled = r.boolean("enabled"))) in.columns.set("enabled", *in.enabled ? "true" : "false");
  if (r.is_null("layout"))
    in.columns.set("layout", "{}");
  else if (auto v = r.object_json("layout"))
    in.columns.set("layout", *v);
  in.nodes = list_member(r, "nodes");
  in.edges = list_member(r, "edges");
  if (!r.ok()) return r.response();
  // The graph as sent, stored as it is (React Flow's extra keys kept).
  if (in.nodes) in.columns.set("nodes", json::to_string(*in.nodes));
  if (in.edges) in.columns.set("edges", json::to_string(*in.edges));
  return std::nullopt;
}

std::vector<api::FieldError> field_errors(std::vector<GraphError> errors) {
  std::vector<api::FieldError> out;
  for (auto& e : errors) out.push_back({.loc = std::move(e.loc), .msg = std::move(e.msg), .type = std::move(e.type)});
  return out;
}

// 422 naming every node whose entity does not exist. The rows found stay locked until
// commit (store::existing_ids), so a concurrent delete of one waits for this save.
Refusal refuse_missing_entities(db::Session& s, const FlowGraph& g) {
  std::vector<api::FieldError> errors;
  for (Kind kind : kNodeKinds) {
    std::vector<std::string> ids;
    for (const auto& n : g.nodes) {
      if (n.type == kind) ids.push_back(n.entity_id);
    }
    if (ids.empty()) continue;
    DM_ASSIGN_OR_RETURN(auto found, store::existing_ids(s, kind, ids));
    for (const auto& n : g.nodes) {
      if (n.type != kind || found.count(n.entity_id)) continue;
      errors.push_back({.loc = {"body", "nodes", std::to_string(n.index), "data", n.entity_key},
                        .msg = std::string(title(kind)) + " " + n.entity_id + " (node '" + n.id + "') does not exist",
                        .type = "value_error"});
    }
  }
  if (errors.empty()) return std::optional<http::Response>{};
  return std::optional<http::Response>(api::validation_error(errors));
}

// Checks the graph's rules and its entities; fills `graph`, or refuses.
Refusal check_flow(db::Session& s, const json::Value& nodes, const json::Value& edges, FlowGraph& graph) {
  auto checked = check_graph(nodes, edges);
  if (!checked.errors.empty()) {
    return std::optional<http::Response>(api::validation_error(field_errors(std::move(checked.errors))));
  }
  graph = std::move(checked.graph);
  return refuse_missing_entities(s, graph);
}

// Locks the stored flow (404 when unknown), and re-checks the graph when it changes and the
// entities when the flow is enabled (they may have been deleted while it was disabled).
// Fills `graph` when the graph was checked.
Refusal check_update(db::Session& s, const std::string& id, const FlowInput& in, FlowGraph& graph) {
  DM_ASSIGN_OR_RETURN(auto stored, store::lock_flow(s, id));
  if (!stored) return std::optional<http::Response>(not_found(Kind::flow));
  const bool enabling = in.enabled.value_or(false) && !stored->enabled;
  if (!in.nodes && !in.edges && !enabling) return std::optional<http::Response>{};
  json::Document stored_nodes, stored_edges;
  if (!in.nodes) {
    DM_ASSIGN_OR_RETURN(stored_nodes, json::parse(stored->nodes, kStoredLimits));
  }
  if (!in.edges) {
    DM_ASSIGN_OR_RETURN(stored_edges, json::parse(stored->edges, kStoredLimits));
  }
  return check_flow(s, in.nodes ? *in.nodes : stored_nodes, in.edges ? *in.edges : stored_edges, graph);
}

http::Response create_flow(Context& ctx, const http::Request& req) {
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  FlowInput in;
  if (auto bad = read_flow(body.doc, true, in)) return *bad;
  FlowGraph graph;
  return create_row(ctx, Kind::flow, in.columns, name_conflict(Kind::flow, in.name),
                    {.before =
                         [&](db::Session& s) {
                           return check_flow(s, in.nodes ? *in.nodes : kEmptyList, in.edges ? *in.edges : kEmptyList,
                                             graph);
                         },
                     .after = [&](db::Session& s, const std::string& id) -> Refusal {
                       DM_TRY(store::replace_flow_refs(s, id, graph.nodes));
                       return std::optional<http::Response>{};
                     }});
}

http::Response update_flow(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(Kind::flow);
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  FlowInput in;
  if (auto bad = read_flow(body.doc, false, in)) return *bad;
  FlowGraph graph;
  return update_row(ctx, Kind::flow, id, in.columns, name_conflict(Kind::flow, in.name),
                    {.before = [&](db::Session& s) { return check_update(s, id, in, graph); },
                     .after = [&](db::Session& s, const std::string&) -> Refusal {
                       if (in.nodes) DM_TRY(store::replace_flow_refs(s, id, graph.nodes));
                       return std::optional<http::Response>{};
                     }});
}

http::Response list_flows(Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto page = q.paging();
  auto sort = q.sort({"name", "created_at", "updated_at"}, {"name", false});
  store::FlowFilter filter{.enabled = q.boolean("enabled"), .text = q.string("search")};
  if (!q.ok()) return q.response();
  return list_page(ctx, store::flows_matching(filter), sort, page);
}

// One stored flow in the orchestrator's shape; false (logged) if its graph cannot be read,
// which only a manual edit of the table could cause.
bool write_internal(json::Writer& w, const store::FlowRow& flow) {
  auto nodes = json::parse(flow.nodes, kStoredLimits);
  auto edges = json::parse(flow.edges, kStoredLimits);
  if (!nodes || !edges) return false;
  auto checked = check_graph(*nodes, *edges);
  if (!checked.errors.empty()) {
    log::warn("stored flow graph is invalid; left out of the orchestrator's view",
              {{"flow", flow.id}, {"error", checked.errors.front().msg}});
    return false;
  }
  w.start_object().field("id", flow.id).field("name", flow.name).field("enabled", flow.enabled);
  w.field("version", flow.version);
  write_normalised(w, checked.graph);
  w.end_object();
  return true;
}

http::Response internal_list(Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto enabled = q.boolean("enabled");
  if (!q.ok()) return q.response();
  auto flows = store::flow_rows(ctx.db, enabled);
  if (!flows) return store_error(flows.error());
  json::Writer w;
  w.start_array();
  for (const auto& flow : *flows) write_internal(w, flow);
  w.end_array();
  return http::Response::json(200, w.take());
}

http::Response internal_get(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(Kind::flow);
  auto flow = store::flow_row(ctx.db, id);
  if (!flow) return store_error(flow.error());
  if (!*flow) return not_found(Kind::flow);
  json::Writer w;
  if (!write_internal(w, **flow)) return http::Response::error(500, "Stored flow graph is invalid");
  return http::Response::json(200, w.take());
}

}  // namespace

void add_flow_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/flows", [&ctx](const http::Request& req) { return list_flows(ctx, req); });
  router.add_sync("POST", "/api/v1/flows", [&ctx](const http::Request& req) { return create_flow(ctx, req); });
  // Not from the read cache (lists are): as it always was.
  router.add_sync("GET", "/api/v1/flows/{id}", [&ctx](const http::Request& req) {
    return get_doc(ctx, Kind::flow, req.params.at("id"), /*cached=*/false);
  });
  auto update = [&ctx](const http::Request& req) { return update_flow(ctx, req); };
  router.add_sync("PUT", "/api/v1/flows/{id}", update);
  router.add_sync("PATCH", "/api/v1/flows/{id}", update);
  router.add_sync("DELETE", "/api/v1/flows/{id}",
                  [&ctx](const http::Request& req) { return delete_row(ctx, Kind::flow, req.params.at("id")); });

  // Not in the gateway's table: only services reach these, over NATS.
  router.add_sync("GET", "/internal/v1/flows", [&ctx](const http::Request& req) { return internal_list(ctx, req); });
  router.add_sync("GET", "/internal/v1/flows/{id}",
                  [&ctx](const http::Request& req) { return internal_get(ctx, req); });
}

}  // namespace dm::registry
