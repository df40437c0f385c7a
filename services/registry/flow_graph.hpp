#pragma once
// Flow graphs: reading the nodes and edges a client (our API or the original's React
// Flow editor) sent, and checking them. Pure: no I/O, so every rule is unit-tested and
// the registry only adds what needs the database (do the referenced entities exist).
//
// Accepted node shape (extra keys such as width, height, selected, dragging,
// positionAbsolute, style are allowed and kept by the caller, which stores the JSON as sent):
//   {"id": "n1", "type": "device|label|function|integration|storage",
//    "position": {"x": 0, "y": 0},               (optional; numbers when present)
//    "data": {"entityId": "<uuid>", "label": "...", "parameters": {...}}}
// The entity id may also be named entity_id, or after the type: deviceId / device_id,
// labelId / label_id, functionId / function_id, integrationId / integration_id,
// storageId / storage_id. When several are present they must agree.
// If "type" is absent, React Flow's data.nodeType is used.
//
// Accepted edge shape: {"id": "e1", "source": "n1", "target": "n2",
//                       "sourceHandle"|"source_handle": ..., "targetHandle"|"target_handle": ...}
// The id may be left out: the edge is then known by React Flow's own naming,
// "reactflow__edge-<source><sourceHandle>-<target><targetHandle>".
//
// Rules (each failure names the node or edge in `loc`, as FastAPI does):
//   - nodes and edges are lists of objects; at most kMaxNodes nodes and kMaxEdges edges
//   - node ids are non-empty strings (at most 255 bytes), unique in the flow
//   - node type is one of the five kinds; data is an object; the entity id is a UUID
//   - data.parameters, when present and not null, is an object; data.label a string
//   - edge ids (when given) are non-empty strings, unique; source and target name existing nodes
//   - no self-loops, no duplicate edges (same source, target and handles: the
//     orchestrator would run the target twice for one message)
//   - trigger nodes (device, label) have no incoming edge: an uplink enters there
//   - no cycles (one node on the cycle is reported, with the cycle spelled out)
//   - no path longer than kMaxDepth nodes: the orchestrator walks paths recursively and
//     a pathological graph must not exhaust it
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "dm/json/json.hpp"
#include "domain.hpp"

namespace dm::registry {

inline constexpr std::size_t kMaxNodes = 500;
inline constexpr std::size_t kMaxEdges = 2000;
inline constexpr std::size_t kMaxDepth = 64;  // nodes along the longest path

// One problem, in FastAPI's terms: loc below the request ("body", "nodes", "3", "data",
// "entityId"); numeric parts are written as numbers by the API layer.
struct GraphError {
  std::vector<std::string> loc;
  std::string msg;
  std::string type;
};

struct FlowNode {
  std::size_t index = 0;  // position in the submitted list
  std::string id;
  std::optional<Kind> type;     // one of the five node kinds; unset when missing or unknown
  std::string entity_id;        // a UUID, lowercase
  std::string entity_key;       // the data key the id came from ("entityId", "deviceId", ...)
  std::string label;            // data.label or ""
  std::string parameters_json;  // data.parameters serialised, "{}" when absent
};

struct FlowEdge {
  std::size_t index = 0;
  std::string id;
  std::string source;
  std::string target;
  std::optional<std::string> source_handle;
  std::optional<std::string> target_handle;
};

struct FlowGraph {
  std::vector<FlowNode> nodes;
  std::vector<FlowEdge> edges;
};

struct GraphCheck {
  FlowGraph graph;                 // what could be read (complete when errors is empty)
  std::vector<GraphError> errors;  // empty = valid
};

// Reads and checks `nodes` and `edges` (JSON arrays). `base` prefixes every loc
// (default {"body"}). Shape errors of every node and edge are all reported; the graph
// rules (triggers, cycles, depth) run only when the shapes are sound.
GraphCheck check_graph(const json::Value& nodes, const json::Value& edges,
                       const std::vector<std::string>& base = {"body"});

// Whether a node's type was read: one of the five kinds a node may stand for.
inline bool is_node_type(std::optional<Kind> type) { return type && is_node_kind(*type); }

// The orchestrator's view of a valid graph:
//   "nodes": [{"id","type","entity_id","parameters","label"}], "edges": [{"id","source","target"}]
// written as two fields into an open object.
void write_normalised(json::Writer& w, const FlowGraph& graph);

}  // namespace dm::registry
