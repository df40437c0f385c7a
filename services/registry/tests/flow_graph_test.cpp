// Unit tests of the pure flow-graph rules (no stack needed: they link dm_registry_logic).
#include "flow_graph.hpp"

#include <catch2/catch.hpp>

using dm::registry::check_graph;
using dm::registry::GraphCheck;
using dm::registry::GraphError;

namespace {

const std::string kDev = "11111111-1111-4111-8111-111111111111";
const std::string kFn = "22222222-2222-4222-8222-222222222222";
const std::string kInt = "33333333-3333-4333-8333-333333333333";
const std::string kLabel = "44444444-4444-4444-8444-444444444444";

std::string node(const std::string& id, const std::string& type, const std::string& entity) {
  return R"({"id":")" + id + R"(","type":")" + type + R"(","position":{"x":1,"y":2},"data":{"entityId":")" + entity +
         R"(","label":")" + id + R"("}})";
}

std::string edge(const std::string& id, const std::string& s, const std::string& t) {
  return R"({"id":")" + id + R"(","source":")" + s + R"(","target":")" + t + R"("})";
}

GraphCheck check(const std::string& nodes, const std::string& edges) {
  auto doc = dm::json::parse(R"({"nodes":)" + nodes + R"(,"edges":)" + edges + "}");
  REQUIRE(doc.ok());
  return check_graph((*doc)["nodes"], (*doc)["edges"]);
}

// The loc as one string: "body/nodes/3/data/entityId".
std::string loc(const GraphError& e) {
  std::string out;
  for (const auto& part : e.loc) out += (out.empty() ? "" : "/") + part;
  return out;
}

// Exactly one error, at `where`, whose message contains `words`.
void require_one(const GraphCheck& c, const std::string& where, const std::string& words) {
  INFO((c.errors.empty() ? std::string("no error") : loc(c.errors[0]) + ": " + c.errors[0].msg));
  REQUIRE(c.errors.size() == 1);
  CHECK(loc(c.errors[0]) == where);
  CHECK(c.errors[0].msg.find(words) != std::string::npos);
}

std::string chain(int n) {
  std::string nodes = "[" + node("n0", "device", kDev);
  std::string edges = "[";
  for (int i = 1; i < n; ++i) {
    nodes += "," + node("n" + std::to_string(i), "function", kFn);
    edges += std::string(i > 1 ? "," : "") +
             edge("e" + std::to_string(i), "n" + std::to_string(i - 1), "n" + std::to_string(i));
  }
  return R"({"nodes":)" + nodes + R"(],"edges":)" + edges + "]}";
}

}  // namespace

TEST_CASE("flow graph: a valid graph in our format is read completely") {
  auto c = check(
      "[" + node("d", "device", kDev) + "," + node("f", "function", kFn) + "," + node("i", "integration", kInt) + "]",
      "[" + edge("e1", "d", "f") + "," + edge("e2", "f", "i") + "]");
  REQUIRE(c.errors.empty());
  REQUIRE(c.graph.nodes.size() == 3);
  CHECK(c.graph.nodes[1].type == dm::registry::Kind::function);
  CHECK(c.graph.nodes[1].entity_id == kFn);
  CHECK(c.graph.nodes[1].label == "f");
  CHECK(c.graph.nodes[1].parameters_json == "{}");
  REQUIRE(c.graph.edges.size() == 2);
  CHECK(c.graph.edges[1].source == "f");
  CHECK(c.graph.edges[1].target == "i");
}

TEST_CASE("flow graph: React Flow nodes with type-named ids, snake_case and extra keys") {
  std::string upper = kDev;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  auto c = check(R"([{"id":"dndnode_0","type":"device","position":{"x":10.5,"y":-3},"width":150,"height":40,)"
                 R"("selected":true,"dragging":false,"positionAbsolute":{"x":10.5,"y":-3},"style":{"border":"1px"},)"
                 R"("data":{"label":"Sensor","nodeType":"device","deviceId":")" +
                     upper +
                     R"("}},)"
                     R"({"id":"dndnode_1","data":{"nodeType":"function","function_id":")" +
                     kFn +
                     R"(","parameters":{"threshold":30}}},)"
                     R"({"id":"dndnode_2","type":"label","data":{"labelId":")" +
                     kLabel + R"(","label_id":")" + kLabel +
                     R"("}},)"
                     R"({"id":"dndnode_3","type":"storage","data":{"entity_id":")" +
                     kInt + R"("}}])",
                 R"([{"id":"reactflow__edge-dndnode_0-dndnode_1","source":"dndnode_0","target":"dndnode_1",)"
                 R"("sourceHandle":null,"targetHandle":null,"animated":true},)"
                 R"({"id":"e2","source":"dndnode_2","target":"dndnode_1","source_handle":"out"},)"
                 R"({"id":"e3","source":"dndnode_1","target":"dndnode_3"}])");
  INFO((c.errors.empty() ? "" : loc(c.errors[0]) + ": " + c.errors[0].msg));
  REQUIRE(c.errors.empty());
  CHECK(c.graph.nodes[0].entity_id == kDev);  // lowercased
  CHECK(c.graph.nodes[0].entity_key == "deviceId");
  CHECK(c.graph.nodes[1].type == dm::registry::Kind::function);  // from data.nodeType
  CHECK(c.graph.nodes[1].parameters_json == R"({"threshold":30})");
  CHECK(c.graph.nodes[2].entity_id == kLabel);
  CHECK(c.graph.nodes[3].entity_key == "entity_id");
  CHECK(c.graph.edges[1].source_handle == "out");
  CHECK_FALSE(c.graph.edges[0].source_handle);
}

TEST_CASE("flow graph: empty flows are valid") { REQUIRE(check("[]", "[]").errors.empty()); }

TEST_CASE("flow graph: node ids are non-empty strings, unique") {
  require_one(check("[" + node("a", "device", kDev) + "," + node("a", "function", kFn) + "]", "[]"), "body/nodes/1/id",
              "Duplicate node id 'a'");
  require_one(check("[" + node("", "device", kDev) + "]", "[]"), "body/nodes/0/id", "1 to 255");
  require_one(check(R"([{"type":"device","data":{"entityId":")" + kDev + R"("}}])", "[]"), "body/nodes/0/id",
              "Field required");
  require_one(check(R"([{"id":7,"type":"device","data":{"entityId":")" + kDev + R"("}}])", "[]"), "body/nodes/0/id",
              "valid string");
}

TEST_CASE("flow graph: node type must be known") {
  require_one(check("[" + node("a", "action", kDev) + "]", "[]"), "body/nodes/0/type", "'device'");
  require_one(check(R"([{"id":"a","data":{"entityId":")" + kDev + R"("}}])", "[]"), "body/nodes/0/type",
              "Field required");
}

TEST_CASE("flow graph: every node names its entity by UUID") {
  require_one(check(R"([{"id":"a","type":"device","data":{"label":"x"}}])", "[]"), "body/nodes/0/data/entityId",
              "Field required");
  require_one(check(R"([{"id":"a","type":"function","data":{"functionId":"42"}}])", "[]"),
              "body/nodes/0/data/functionId", "UUID");
  require_one(
      check(R"([{"id":"a","type":"device","data":{"entityId":")" + kDev + R"(","deviceId":")" + kFn + R"("}}])", "[]"),
      "body/nodes/0/data/deviceId", "different entities");
  require_one(check(R"([{"id":"a","type":"device"}])", "[]"), "body/nodes/0/data", "Field required");
  require_one(check(R"([{"id":"a","type":"device","data":[]}])", "[]"), "body/nodes/0/data", "dictionary");
  // A deviceId on a function node is not the function's id.
  require_one(check(R"([{"id":"a","type":"function","data":{"deviceId":")" + kDev + R"("}}])", "[]"),
              "body/nodes/0/data/entityId", "Field required");
}

TEST_CASE("flow graph: position, label and parameters have their types") {
  require_one(
      check(R"([{"id":"a","type":"device","position":{"x":"1","y":2},"data":{"entityId":")" + kDev + R"("}}])", "[]"),
      "body/nodes/0/position/x", "number");
  require_one(check(R"([{"id":"a","type":"device","data":{"entityId":")" + kDev + R"(","parameters":[1]}}])", "[]"),
              "body/nodes/0/data/parameters", "dictionary");
  require_one(check(R"([{"id":"a","type":"device","data":{"entityId":")" + kDev + R"(","label":5}}])", "[]"),
              "body/nodes/0/data/label", "string");
}

TEST_CASE("flow graph: nodes and edges are lists of objects") {
  require_one(check("{}", "[]"), "body/nodes", "list");
  require_one(check("[]", "5"), "body/edges", "list");
  require_one(check("[1]", "[]"), "body/nodes/0", "dictionary");
  require_one(check("[" + node("a", "device", kDev) + "]", "[null]"), "body/edges/0", "dictionary");
}

TEST_CASE("flow graph: every problem of every node is reported") {
  auto c = check(R"([{"id":"a","type":"nope","data":{}},{"id":"b","type":"device","data":{}}])", "[]");
  REQUIRE(c.errors.size() == 2);
  CHECK(loc(c.errors[0]) == "body/nodes/0/type");
  CHECK(loc(c.errors[1]) == "body/nodes/1/data/entityId");
}

TEST_CASE("flow graph: edges reference existing nodes") {
  const std::string nodes = "[" + node("d", "device", kDev) + "," + node("f", "function", kFn) + "]";
  require_one(check(nodes, "[" + edge("e1", "d", "ghost") + "]"), "body/edges/0/target", "'ghost' is not a node");
  require_one(check(nodes, "[" + edge("e1", "ghost", "f") + "]"), "body/edges/0/source", "'ghost' is not a node");
  require_one(check(nodes, R"([{"id":"e1","target":"f"}])"), "body/edges/0/source", "Field required");
  require_one(check(nodes, R"([{"id":"","source":"d","target":"f"}])"), "body/edges/0/id", "at least 1 character");
  require_one(check(nodes, R"([{"id":"reactflow__edge-d-f","source":"d","target":"f","sourceHandle":"a"},)"
                           R"({"source":"d","target":"f"}])"),
              "body/edges/1/id", "Duplicate edge id 'reactflow__edge-d-f'");
  require_one(check("[" + node("d", "device", kDev) + "," + node("f", "function", kFn) + "," +
                        node("i", "integration", kInt) + "]",
                    "[" + edge("e1", "d", "f") + "," + edge("e1", "f", "i") + "]"),
              "body/edges/1/id", "Duplicate edge id");
  require_one(check(nodes, "[" + edge("e1", "d", "f") + "," + edge("e2", "d", "f") + "]"), "body/edges/1",
              "Duplicate edge");
  require_one(check(nodes, R"([{"id":"e1","source":"d","target":"f","sourceHandle":3}])"), "body/edges/0/sourceHandle",
              "string");
}

TEST_CASE("flow graph: an edge without id gets React Flow's name for it") {
  auto c = check("[" + node("d", "device", kDev) + "," + node("f", "function", kFn) + "]",
                 R"([{"source":"d","target":"f","sourceHandle":"out"}])");
  REQUIRE(c.errors.empty());
  CHECK(c.graph.edges[0].id == "reactflow__edge-dout-f");
}

TEST_CASE("flow graph: no self-loops") {
  require_one(check("[" + node("f", "function", kFn) + "]", "[" + edge("e1", "f", "f") + "]"), "body/edges/0/target",
              "to itself");
}

TEST_CASE("flow graph: trigger nodes have no incoming edge") {
  const std::string nodes =
      "[" + node("d", "device", kDev) + "," + node("f", "function", kFn) + "," + node("l", "label", kLabel) + "]";
  require_one(check(nodes, "[" + edge("e1", "d", "f") + "," + edge("e2", "f", "l") + "]"), "body/edges/1/target",
              "'l' is a label trigger");
  require_one(check(nodes, "[" + edge("e1", "f", "d") + "]"), "body/edges/0/target", "'d' is a device trigger");
}

TEST_CASE("flow graph: cycles are refused, naming a node on the cycle") {
  const std::string nodes = "[" + node("d", "device", kDev) + "," + node("a", "function", kFn) + "," +
                            node("b", "function", kFn) + "," + node("c", "integration", kInt) + "]";
  auto c = check(nodes, "[" + edge("e1", "d", "a") + "," + edge("e2", "a", "b") + "," + edge("e3", "b", "a") + "," +
                            edge("e4", "b", "c") + "]");
  REQUIRE(c.errors.size() == 1);
  const auto where = loc(c.errors[0]);
  CHECK((where == "body/nodes/1" || where == "body/nodes/2"));
  CHECK(c.errors[0].msg.find("cycle") != std::string::npos);
  CHECK(c.errors[0].msg.find("'a' -> 'b' -> 'a'") != std::string::npos);
}

TEST_CASE("flow graph: a diamond is not a cycle") {
  const std::string nodes = "[" + node("d", "device", kDev) + "," + node("a", "function", kFn) + "," +
                            node("b", "function", kFn) + "," + node("c", "integration", kInt) + "]";
  auto c = check(nodes, "[" + edge("e1", "d", "a") + "," + edge("e2", "d", "b") + "," + edge("e3", "a", "c") + "," +
                            edge("e4", "b", "c") + "]");
  REQUIRE(c.errors.empty());
}

TEST_CASE("flow graph: paths are at most 64 nodes long") {
  auto ok = dm::json::parse(chain(64));
  REQUIRE(ok.ok());
  REQUIRE(check_graph((*ok)["nodes"], (*ok)["edges"]).errors.empty());
  auto deep = dm::json::parse(chain(65), {.max_bytes = 1 << 20, .max_depth = 64});
  REQUIRE(deep.ok());
  auto c = check_graph((*deep)["nodes"], (*deep)["edges"]);
  require_one(c, "body/nodes/64", "65 nodes long; at most 64");
}

TEST_CASE("flow graph: too many nodes are refused before anything else") {
  std::string nodes = "[";
  for (std::size_t i = 0; i <= dm::registry::kMaxNodes; ++i)
    nodes += (i ? "," : "") + node("n" + std::to_string(i), "function", kFn);
  nodes += "]";
  require_one(check(nodes, "[]"), "body/nodes", "at most 500");
}

TEST_CASE("flow graph: the orchestrator's normalised view") {
  auto c = check(R"([{"id":"d","type":"device","data":{"deviceId":")" + kDev +
                     R"(","label":"Sensor"}},)"
                     R"({"id":"f","type":"function","data":{"entityId":")" +
                     kFn + R"(","parameters":{"t":1}}}])",
                 R"([{"id":"e","source":"d","target":"f","sourceHandle":null,"animated":true}])");
  REQUIRE(c.errors.empty());
  dm::json::Writer w;
  w.start_object();
  dm::registry::write_normalised(w, c.graph);
  w.end_object();
  CHECK(w.take() == R"({"nodes":[{"id":"d","type":"device","entity_id":")" + kDev +
                        R"(","parameters":{},"label":"Sensor"},{"id":"f","type":"function","entity_id":")" + kFn +
                        R"(","parameters":{"t":1},"label":""}],"edges":[{"id":"e","source":"d","target":"f"}]})");
}
