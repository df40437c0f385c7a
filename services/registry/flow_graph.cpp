#include "flow_graph.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "dm/core/strings.hpp"

namespace dm::registry {
namespace {

constexpr std::size_t kMaxIdBytes = 255;

// Collects errors with locs below `base`.
class Problems {
 public:
  explicit Problems(const std::vector<std::string>& base) : base_(base) {}
  void add(std::vector<std::string> loc, std::string msg, std::string type = "value_error") {
    auto full = base_;
    full.insert(full.end(), loc.begin(), loc.end());
    errors_.push_back({.loc = std::move(full), .msg = std::move(msg), .type = std::move(type)});
  }
  std::size_t count() const { return errors_.size(); }
  std::vector<GraphError> take() { return std::move(errors_); }

 private:
  const std::vector<std::string>& base_;
  std::vector<GraphError> errors_;
};

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

const json::Value* member(const json::Value& object, std::string_view key) {
  return object.IsObject() ? json::find(object, key) : nullptr;
}

// The data keys that may carry the entity id of a node of `type`, in order of preference.
std::vector<std::string> entity_keys(Kind type) {
  const std::string name(word(type));
  return {"entityId", "entity_id", name + "Id", name + "_id"};
}

// Reads the node's entity id from `data`; every key that is present must be a UUID and
// all must agree (an editor that wrote both keeps them in step; if not, which one the
// user meant is unknowable).
void read_entity(const json::Value& data, FlowNode& node, const std::string& idx, Problems& p) {
  for (const auto& key : entity_keys(*node.type)) {
    const auto* v = member(data, key);
    if (!v || v->IsNull()) continue;
    if (!v->IsString() || !is_uuid(json::view(*v))) {
      p.add({"nodes", idx, "data", key}, "Entity id must be a UUID", "uuid_parsing");
      return;
    }
    std::string id = lower(json::view(*v));
    if (node.entity_id.empty()) {
      node.entity_id = std::move(id);
      node.entity_key = key;
    } else if (id != node.entity_id) {
      p.add({"nodes", idx, "data", key}, "data." + key + " and data." + node.entity_key + " name different entities");
      return;
    }
  }
  if (node.entity_id.empty()) {
    const std::string type(word(*node.type));
    p.add({"nodes", idx, "data", "entityId"},
          "Field required: the " + type + " this node stands for (data.entityId or data." + type + "Id)", "missing");
  }
}

void read_data(const json::Value& data, FlowNode& node, const std::string& idx, Problems& p) {
  if (is_node_type(node.type)) read_entity(data, node, idx, p);
  if (const auto* label = member(data, "label"); label && !label->IsNull()) {
    if (label->IsString())
      node.label = std::string(json::view(*label));
    else
      p.add({"nodes", idx, "data", "label"}, "Input should be a valid string", "string_type");
  }
  node.parameters_json = "{}";
  if (const auto* params = member(data, "parameters"); params && !params->IsNull()) {
    if (params->IsObject())
      node.parameters_json = json::to_string(*params);
    else
      p.add({"nodes", idx, "data", "parameters"}, "Input should be a valid dictionary", "dict_type");
  }
}

void read_position(const json::Value& raw, const std::string& idx, Problems& p) {
  const auto* pos = member(raw, "position");
  if (!pos || pos->IsNull()) return;
  if (!pos->IsObject()) {
    p.add({"nodes", idx, "position"}, "Input should be a valid dictionary", "dict_type");
    return;
  }
  for (const char* axis : {"x", "y"}) {
    const auto* v = member(*pos, axis);
    if (!v)
      p.add({"nodes", idx, "position", axis}, "Field required", "missing");
    else if (!v->IsNumber())
      p.add({"nodes", idx, "position", axis}, "Input should be a valid number", "float_type");
  }
}

void read_type(const json::Value& raw, FlowNode& node, const std::string& idx, Problems& p) {
  const auto* type = member(raw, "type");
  if (!type || type->IsNull()) {
    // React Flow editors sometimes keep the kind only in data.nodeType.
    if (const auto* data = member(raw, "data")) type = member(*data, "nodeType");
  }
  if (!type || type->IsNull()) {
    p.add({"nodes", idx, "type"}, "Field required", "missing");
  } else if (auto kind = type->IsString() ? parse_word<Kind>(json::view(*type)) : std::nullopt;
             !kind || !is_node_kind(*kind)) {
    p.add({"nodes", idx, "type"}, "Input should be 'device', 'label', 'function', 'integration' or 'storage'", "enum");
  } else {
    node.type = kind;
  }
}

// Reads node `i`; adds its id to `ids` (for edges) even when other parts are wrong.
void read_node(const json::Value& raw, std::size_t i, FlowGraph& g, std::map<std::string, std::size_t>& ids,
               Problems& p) {
  const std::string idx = std::to_string(i);
  if (!raw.IsObject()) {
    p.add({"nodes", idx}, "Input should be a valid dictionary", "dict_type");
    return;
  }
  FlowNode node;
  node.index = i;
  const auto* id = member(raw, "id");
  if (!id) {
    p.add({"nodes", idx, "id"}, "Field required", "missing");
  } else if (!id->IsString()) {
    p.add({"nodes", idx, "id"}, "Input should be a valid string", "string_type");
  } else if (id->GetStringLength() == 0 || id->GetStringLength() > kMaxIdBytes) {
    p.add({"nodes", idx, "id"}, "Node id must have 1 to " + std::to_string(kMaxIdBytes) + " characters",
          "string_too_short");
  } else {
    node.id = std::string(json::view(*id));
    if (auto [it, fresh] = ids.emplace(node.id, i); !fresh) {
      p.add({"nodes", idx, "id"},
            "Duplicate node id " + quoted(node.id) + " (also node " + std::to_string(it->second) + ")");
    }
  }
  read_type(raw, node, idx, p);
  read_position(raw, idx, p);
  const auto* data = member(raw, "data");
  if (!data)
    p.add({"nodes", idx, "data"}, "Field required", "missing");
  else if (!data->IsObject())
    p.add({"nodes", idx, "data"}, "Input should be a valid dictionary", "dict_type");
  else
    read_data(*data, node, idx, p);
  g.nodes.push_back(std::move(node));
}

// A required non-empty string member; nullopt after recording the problem.
std::optional<std::string> required_string(const json::Value& raw, const char* key, std::vector<std::string> loc,
                                           Problems& p) {
  const auto* v = member(raw, key);
  loc.emplace_back(key);
  if (!v)
    p.add(std::move(loc), "Field required", "missing");
  else if (!v->IsString())
    p.add(std::move(loc), "Input should be a valid string", "string_type");
  else if (v->GetStringLength() == 0)
    p.add(std::move(loc), "String should have at least 1 character", "string_too_short");
  else
    return std::string(json::view(*v));
  return std::nullopt;
}

// sourceHandle / source_handle: React Flow writes null for the default handle.
std::optional<std::string> read_handle(const json::Value& raw, const char* camel, const char* snake,
                                       const std::string& idx, Problems& p) {
  for (const char* key : {camel, snake}) {
    const auto* v = member(raw, key);
    if (!v || v->IsNull()) continue;
    if (v->IsString()) return std::string(json::view(*v));
    p.add({"edges", idx, key}, "Input should be a valid string", "string_type");
    return std::nullopt;
  }
  return std::nullopt;
}

// Checks that `end` names an existing node; returns its index.
std::optional<std::size_t> endpoint(const std::optional<std::string>& end, const char* key, const std::string& idx,
                                    const std::map<std::string, std::size_t>& ids, Problems& p) {
  if (!end) return std::nullopt;
  auto it = ids.find(*end);
  if (it == ids.end()) {
    p.add({"edges", idx, key}, "Edge " + std::string(key) + " " + quoted(*end) + " is not a node of this flow");
    return std::nullopt;
  }
  return it->second;
}

using EdgeKey = std::tuple<std::string, std::string, std::string, std::string>;

// The edge's id, or React Flow's own naming when a client left it out (the API's schema
// makes it optional): "reactflow__edge-<source><sourceHandle>-<target><targetHandle>".
std::optional<std::string> read_edge_id(const json::Value& raw, const FlowEdge& edge, const std::string& idx,
                                        Problems& p) {
  const auto* v = member(raw, "id");
  if (v && !v->IsNull()) return required_string(raw, "id", {"edges", idx}, p);
  return "reactflow__edge-" + edge.source + edge.source_handle.value_or("") + "-" + edge.target +
         edge.target_handle.value_or("");
}

// Rules on an edge whose ends are both nodes of the flow.
void check_ends(const FlowEdge& edge, const FlowNode& target, bool self, std::set<EdgeKey>& seen,
                const std::string& idx, Problems& p) {
  if (self) {
    p.add({"edges", idx, "target"}, "Edge connects node " + quoted(edge.target) + " to itself");
  } else if (target.type && is_trigger_kind(*target.type)) {
    p.add({"edges", idx, "target"}, "Node " + quoted(edge.target) + " is a " + std::string(word(*target.type)) +
                                        " trigger: uplinks enter the flow there, it cannot have incoming edges");
  } else if (!seen.emplace(edge.source, edge.target, edge.source_handle.value_or(""), edge.target_handle.value_or(""))
                  .second) {
    p.add({"edges", idx}, "Duplicate edge from " + quoted(edge.source) + " to " + quoted(edge.target) +
                              " (the target would run twice for one message)");
  }
}

void read_edge(const json::Value& raw, std::size_t i, const std::vector<FlowNode>& nodes,
               const std::map<std::string, std::size_t>& ids, std::set<std::string>& edge_ids, std::set<EdgeKey>& seen,
               FlowGraph& g, Problems& p) {
  const std::string idx = std::to_string(i);
  if (!raw.IsObject()) {
    p.add({"edges", idx}, "Input should be a valid dictionary", "dict_type");
    return;
  }
  FlowEdge edge;
  edge.index = i;
  auto source = required_string(raw, "source", {"edges", idx}, p);
  auto target = required_string(raw, "target", {"edges", idx}, p);
  edge.source = source.value_or("");
  edge.target = target.value_or("");
  edge.source_handle = read_handle(raw, "sourceHandle", "source_handle", idx, p);
  edge.target_handle = read_handle(raw, "targetHandle", "target_handle", idx, p);
  if (auto id = read_edge_id(raw, edge, idx, p)) {
    if (!edge_ids.insert(*id).second) p.add({"edges", idx, "id"}, "Duplicate edge id " + quoted(*id));
    edge.id = std::move(*id);
  }
  const auto from = endpoint(source, "source", idx, ids, p);
  const auto to = endpoint(target, "target", idx, ids, p);
  if (from && to) check_ends(edge, nodes[*to], *from == *to, seen, idx, p);
  g.edges.push_back(std::move(edge));
}

// Adjacency by node position, from edges that passed the shape checks.
std::vector<std::vector<std::size_t>> successors(const FlowGraph& g) {
  std::unordered_map<std::string, std::size_t> pos;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) pos.emplace(g.nodes[i].id, i);
  std::vector<std::vector<std::size_t>> out(g.nodes.size());
  for (const auto& e : g.edges) out[pos.at(e.source)].push_back(pos.at(e.target));
  return out;
}

// Iterative depth-first search (graphs come from users: no recursion depth to exhaust).
// Returns the nodes of one cycle, first node repeated at the end, or empty.
std::vector<std::size_t> find_cycle(const std::vector<std::vector<std::size_t>>& next) {
  enum Colour : char { white, grey, black };
  std::vector<Colour> colour(next.size(), white);
  for (std::size_t root = 0; root < next.size(); ++root) {
    if (colour[root] != white) continue;
    std::vector<std::pair<std::size_t, std::size_t>> stack{{root, 0}};  // node, next child to visit
    colour[root] = grey;
    while (!stack.empty()) {
      auto& [node, child] = stack.back();
      if (child == next[node].size()) {
        colour[node] = black;
        stack.pop_back();
        continue;
      }
      const std::size_t to = next[node][child++];
      if (colour[to] == grey) {
        std::vector<std::size_t> cycle;
        auto it = std::find_if(stack.begin(), stack.end(), [to](const auto& f) { return f.first == to; });
        for (; it != stack.end(); ++it) cycle.push_back(it->first);
        cycle.push_back(to);
        return cycle;
      }
      if (colour[to] == white) {
        colour[to] = grey;
        stack.emplace_back(to, 0);
      }
    }
  }
  return {};
}

// Longest path (in nodes) ending at each node, for an acyclic graph (Kahn's order).
// Returns the first node whose longest incoming path exceeds kMaxDepth, if any.
std::optional<std::pair<std::size_t, std::size_t>> too_deep(const std::vector<std::vector<std::size_t>>& next) {
  std::vector<std::size_t> indegree(next.size(), 0), depth(next.size(), 1);
  for (const auto& succ : next) {
    for (auto to : succ) ++indegree[to];
  }
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < next.size(); ++i) {
    if (indegree[i] == 0) ready.push_back(i);
  }
  while (!ready.empty()) {
    const std::size_t node = ready.back();
    ready.pop_back();
    if (depth[node] > kMaxDepth) return std::pair{node, depth[node]};
    for (auto to : next[node]) {
      depth[to] = std::max(depth[to], depth[node] + 1);
      if (--indegree[to] == 0) ready.push_back(to);
    }
  }
  return std::nullopt;
}

void check_structure(const FlowGraph& g, Problems& p) {
  const auto next = successors(g);
  if (auto cycle = find_cycle(next); !cycle.empty()) {
    std::string path;
    for (auto n : cycle) path += (path.empty() ? "" : " -> ") + quoted(g.nodes[n].id);
    const auto& first = g.nodes[cycle.front()];
    p.add({"nodes", std::to_string(first.index)},
          "Node " + quoted(first.id) + " is on a cycle: " + path + " (a flow must be acyclic)");
    return;
  }
  if (auto deep = too_deep(next)) {
    const auto& node = g.nodes[deep->first];
    p.add({"nodes", std::to_string(node.index)}, "A path reaching node " + quoted(node.id) + " is " +
                                                     std::to_string(deep->second) + " nodes long; at most " +
                                                     std::to_string(kMaxDepth) + " are allowed");
  }
}

bool read_list(const json::Value& list, const char* name, std::size_t max, Problems& p) {
  if (!list.IsArray()) {
    p.add({name}, "Input should be a valid list", "list_type");
    return false;
  }
  if (list.Size() > max) {
    p.add({name}, "List should have at most " + std::to_string(max) + " items", "too_long");
    return false;
  }
  return true;
}

}  // namespace

GraphCheck check_graph(const json::Value& nodes, const json::Value& edges, const std::vector<std::string>& base) {
  GraphCheck out;
  Problems p(base);
  const bool nodes_ok = read_list(nodes, "nodes", kMaxNodes, p);
  const bool edges_ok = read_list(edges, "edges", kMaxEdges, p);
  std::map<std::string, std::size_t> ids;  // node id → position in out.graph.nodes
  if (nodes_ok) {
    for (rapidjson::SizeType i = 0; i < nodes.Size(); ++i) read_node(nodes[i], i, out.graph, ids, p);
  }
  // Edge ends are looked up among readable node ids; positions index out.graph.nodes.
  std::map<std::string, std::size_t> positions;
  for (std::size_t i = 0; i < out.graph.nodes.size(); ++i) {
    if (!out.graph.nodes[i].id.empty()) positions.emplace(out.graph.nodes[i].id, i);
  }
  if (nodes_ok && edges_ok) {
    std::set<std::string> edge_ids;
    std::set<EdgeKey> seen;
    for (rapidjson::SizeType i = 0; i < edges.Size(); ++i) {
      read_edge(edges[i], i, out.graph.nodes, positions, edge_ids, seen, out.graph, p);
    }
  }
  if (p.count() == 0) check_structure(out.graph, p);
  out.errors = p.take();
  return out;
}

void write_normalised(json::Writer& w, const FlowGraph& graph) {
  w.key("nodes").start_array();
  for (const auto& n : graph.nodes) {
    w.start_object().field("id", n.id).field("type", word(*n.type)).field("entity_id", n.entity_id);
    w.key("parameters").raw(n.parameters_json.empty() ? std::string_view("{}") : n.parameters_json);
    w.field("label", n.label).end_object();
  }
  w.end_array();
  w.key("edges").start_array();
  for (const auto& e : graph.edges) {
    w.start_object().field("id", e.id).field("source", e.source).field("target", e.target).end_object();
  }
  w.end_array();
}

}  // namespace dm::registry
