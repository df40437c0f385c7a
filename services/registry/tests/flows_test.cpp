// Flows over real HTTP through the gateway: both graph formats, validation naming the bad
// node or edge, entities in use, and the orchestrator's internal view over NATS.
#include <cctype>

#include "api_fixture.hpp"
#include "registry_rpc.hpp"

using dm::test::Api;
using dm::test::Reply;
using dm::test::unique;

namespace {

std::string eui(int n) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016x", 0xf10000 + n * 7919 + ::getpid());
  return buf;
}

std::string create(Api& api, const std::string& path, const std::string& body) {
  auto r = api.post(path, body);
  INFO(path << " " << r.body);
  REQUIRE(r.status == 201);
  return r.str("id");
}

// One of each kind a node can stand for, created through the API.
struct Entities {
  std::string device, label, function, integration, storage;
};

Entities make_entities(Api& api) {
  static int n = 0;
  ++n;
  Entities e;
  e.device = create(api, "/api/v1/devices", R"({"dev_eui":")" + eui(n) + R"(","name":")" + unique("sensor") + R"("})");
  e.label = create(api, "/api/v1/labels", R"({"name":")" + unique("trackers") + R"("})");
  e.function = create(api, "/api/v1/functions", R"({"name":")" + unique("alert") + R"(","code":"return msg;"})");
  e.integration =
      create(api, "/api/v1/integrations",
             R"({"name":")" + unique("hook") + R"(","type":"http","config":{"url":"https://example.com/hook"}})");
  e.storage = create(api, "/api/v1/storages", R"({"name":")" + unique("archive") + R"(","type":"internal"})");
  return e;
}

std::string node(const std::string& id, const std::string& type, const std::string& entity,
                 const std::string& extra = "") {
  return R"({"id":")" + id + R"(","type":")" + type + R"(","position":{"x":0,"y":0},"data":{"entity_id":")" + entity +
         R"(","label":")" + id + "\"" + extra + "}}";
}

std::string edge(const std::string& id, const std::string& s, const std::string& t) {
  return R"({"id":")" + id + R"(","source":")" + s + R"(","target":")" + t + R"("})";
}

// Our format: device and label trigger a function that feeds an integration and a storage.
std::string our_graph(const Entities& e) {
  return R"("nodes":[)" + node("d", "device", e.device) + "," + node("l", "label", e.label) + "," +
         node("f", "function", e.function, R"(,"parameters":{"threshold":30})") + "," +
         node("i", "integration", e.integration) + "," + node("s", "storage", e.storage) + R"(],"edges":[)" +
         edge("e1", "d", "f") + "," + edge("e2", "l", "f") + "," + edge("e3", "f", "i") + "," + edge("e4", "f", "s") +
         "]";
}

std::string flow_body(const std::string& name, const std::string& graph) {
  return R"({"name":")" + name + R"(","description":"test flow",)" + graph + "}";
}

std::int64_t count_flows(Api& api) { return total(api.get("/api/v1/flows?limit=1")); }

std::string loc_text(const dm::json::Value& loc) {
  std::string out;
  for (const auto& part : loc.GetArray()) {
    out += out.empty() ? "" : "/";
    out += part.IsString() ? std::string(dm::json::view(part)) : std::to_string(part.GetInt());
  }
  return out;
}

// A 422 whose detail has an entry at `where` ("body/nodes/3/data/entityId") whose msg contains `words`.
void require_refused(const Reply& r, const std::string& where, const std::string& words) {
  INFO(r.body);
  REQUIRE(r.status == 422);
  const auto* d = dm::json::find(r.json, "detail");
  REQUIRE((d && d->IsArray()));
  bool found = false;
  for (const auto& e : d->GetArray()) {
    if (loc_text(e["loc"]) == where && std::string(dm::json::view(e["msg"])).find(words) != std::string::npos)
      found = true;
  }
  REQUIRE(found);
}

// The orchestrator's view: the internal routes over NATS.
dm::test::NatsReply registry_get(const std::string& target) {
  return dm::test::registry_rpc(target, "flow-orchestrator", dm::test::stack());
}

const dm::json::Value* find_by_id(const dm::json::Value& list, const std::string& id) {
  for (const auto& item : list.GetArray()) {
    if (item["id"] == id.c_str()) return &item;
  }
  return nullptr;
}

}  // namespace

// Create, get, list, update and delete as every kind does them: crud_test.cpp.
TEST_CASE("flows: graphs, layout, the enabled filter, partial updates") {
  Api api;
  auto e = make_entities(api);
  const std::string name = unique("temperature");
  auto created = api.post("/api/v1/flows", R"({"name":")" + name + R"(","description":"alerts",)" + our_graph(e) +
                                               R"(,"layout":{"viewport":{"x":10,"y":20,"zoom":1.5}}})");
  INFO(created.body);
  REQUIRE(created.status == 201);
  const std::string id = created.str("id");
  REQUIRE(created["enabled"].GetBool());
  REQUIRE(created["version"].GetInt() == 1);
  REQUIRE(created["nodes"].Size() == 5);
  REQUIRE(created["edges"].Size() == 4);
  REQUIRE(created["nodes"][2]["data"]["parameters"]["threshold"].GetInt() == 30);
  REQUIRE(created["layout"]["viewport"]["zoom"].GetDouble() == 1.5);

  auto got = api.get("/api/v1/flows/" + id);
  REQUIRE(got.status == 200);
  REQUIRE(got["nodes"][0]["data"]["entity_id"] == e.device.c_str());

  auto enabled = api.get("/api/v1/flows?enabled=true&limit=1000");
  REQUIRE(enabled.status == 200);
  REQUIRE(find_by_id(enabled.json, id));
  REQUIRE_FALSE(find_by_id(api.get("/api/v1/flows?enabled=false&limit=1000").json, id));
  REQUIRE(api.get("/api/v1/flows?sort=-updated_at").status == 200);
  REQUIRE(api.get("/api/v1/flows?enabled=maybe").status == 422);

  auto disabled = api.patch("/api/v1/flows/" + id, R"({"enabled":false})");
  REQUIRE(disabled.status == 200);
  REQUIRE_FALSE(disabled["enabled"].GetBool());
  REQUIRE(disabled["version"].GetInt() == 2);
  REQUIRE(disabled["nodes"].Size() == 5);  // untouched
  REQUIRE(find_by_id(api.get("/api/v1/flows?enabled=false&limit=1000").json, id));

  auto described = api.put("/api/v1/flows/" + id, R"({"description":null})");
  REQUIRE(described.status == 200);
  REQUIRE(described.str("description").empty());
  REQUIRE(described["version"].GetInt() == 3);

  // New nodes without the storage; the stored edges still name it, so edges come too.
  auto fewer = api.patch("/api/v1/flows/" + id, R"({"nodes":[)" + node("d", "device", e.device) + "," +
                                                    node("f", "function", e.function) + R"(],"edges":[)" +
                                                    edge("e1", "d", "f") + "]}");
  INFO(fewer.body);
  REQUIRE(fewer.status == 200);
  REQUIRE(fewer["nodes"].Size() == 2);
  REQUIRE(fewer["version"].GetInt() == 4);
  REQUIRE(fewer["layout"]["viewport"]["x"].GetInt() == 10);  // kept
}

TEST_CASE("flows: the React Flow editor's graphs are accepted unchanged") {
  Api api;
  auto e = make_entities(api);
  std::string upper_device = e.device;
  for (auto& c : upper_device) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string nodes =
      R"([{"id":"dndnode_0","type":"device","position":{"x":100.5,"y":50},"width":150,"height":40,"selected":true,)"
      R"("dragging":false,"positionAbsolute":{"x":100.5,"y":50},"style":{"background":"#fff"},)"
      R"("data":{"label":"Greenhouse","nodeType":"device","deviceId":")" +
      upper_device +
      R"("}},)"
      R"({"id":"dndnode_1","type":"function","position":{"x":300,"y":50},"width":150,"height":40,)"
      R"("data":{"label":"Alert","nodeType":"function","functionId":")" +
      e.function +
      R"(","parameters":{"threshold":25}}},)"
      R"({"id":"dndnode_2","type":"integration","position":{"x":500,"y":50},)"
      R"("data":{"label":"Hook","integration_id":")" +
      e.integration +
      R"("}},)"
      R"({"id":"dndnode_3","type":"label","position":{"x":100,"y":150},"data":{"labelId":")" +
      e.label +
      R"("}},)"
      R"({"id":"dndnode_4","type":"storage","position":{"x":500,"y":150},"data":{"storageId":")" +
      e.storage + R"("}}])";
  const std::string edges =
      R"([{"id":"reactflow__edge-dndnode_0-dndnode_1","source":"dndnode_0","target":"dndnode_1","sourceHandle":null,)"
      R"("targetHandle":null,"animated":true,"type":"smoothstep","style":{"stroke":"#555"}},)"
      R"({"id":"reactflow__edge-dndnode_1-dndnode_2","source":"dndnode_1","target":"dndnode_2","source_handle":"out"},)"
      R"({"id":"reactflow__edge-dndnode_3-dndnode_1","source":"dndnode_3","target":"dndnode_1"},)"
      R"({"id":"reactflow__edge-dndnode_1-dndnode_4","source":"dndnode_1","target":"dndnode_4"}])";
  const std::string name = unique("react-flow");
  auto created = api.post("/api/v1/flows", R"({"name":")" + name + R"(","nodes":)" + nodes + R"(,"edges":)" + edges +
                                               R"(,"layout":{"viewport":{"x":0,"y":0,"zoom":1}}})");
  INFO(created.body);
  REQUIRE(created.status == 201);
  const std::string id = created.str("id");

  // Every key the editor wrote comes back as it was sent.
  auto got = api.get("/api/v1/flows/" + id);
  const auto& n0 = got["nodes"][0];
  REQUIRE(n0["width"].GetInt() == 150);
  REQUIRE(n0["height"].GetInt() == 40);
  REQUIRE(n0["selected"].GetBool());
  REQUIRE_FALSE(n0["dragging"].GetBool());
  REQUIRE(n0["positionAbsolute"]["x"].GetDouble() == 100.5);
  REQUIRE(n0["style"]["background"] == "#fff");
  REQUIRE(n0["data"]["deviceId"] == upper_device.c_str());
  REQUIRE(n0["data"]["nodeType"] == "device");
  const auto& e0 = got["edges"][0];
  REQUIRE(e0["animated"].GetBool());
  REQUIRE(e0["sourceHandle"].IsNull());
  REQUIRE(e0["type"] == "smoothstep");
  REQUIRE(e0["style"]["stroke"] == "#555");
  REQUIRE(got["edges"][1]["source_handle"] == "out");

  // The orchestrator's view over NATS: nodes normalised, edges reduced to their ends.
  auto internal = registry_get("/internal/v1/flows?enabled=true");
  REQUIRE(internal.status == 200);
  REQUIRE(internal.json.IsArray());
  const auto* flow = find_by_id(internal.json, id);
  REQUIRE(flow);
  REQUIRE((*flow)["name"] == name.c_str());
  REQUIRE((*flow)["version"].GetInt() == 1);
  const auto& in0 = (*flow)["nodes"][0];
  REQUIRE(in0["id"] == "dndnode_0");
  REQUIRE(in0["type"] == "device");
  REQUIRE(in0["entity_id"] == e.device.c_str());  // lowercased
  REQUIRE(in0["label"] == "Greenhouse");
  REQUIRE((in0["parameters"].IsObject() && in0["parameters"].MemberCount() == 0));
  REQUIRE_FALSE(in0.HasMember("width"));
  const auto& in1 = (*flow)["nodes"][1];
  REQUIRE(in1["entity_id"] == e.function.c_str());
  REQUIRE(in1["parameters"]["threshold"].GetInt() == 25);
  REQUIRE((*flow)["nodes"][3]["entity_id"] == e.label.c_str());
  REQUIRE((*flow)["nodes"][4]["entity_id"] == e.storage.c_str());
  const auto& ie0 = (*flow)["edges"][0];
  REQUIRE(ie0["source"] == "dndnode_0");
  REQUIRE(ie0["target"] == "dndnode_1");
  REQUIRE(ie0.MemberCount() == 3);

  auto one = registry_get("/internal/v1/flows/" + id);
  REQUIRE(one.status == 200);
  REQUIRE(one.json["nodes"].Size() == 5);
  REQUIRE(registry_get("/internal/v1/flows/00000000-0000-0000-0000-000000000000").status == 404);

  // Disabled flows leave the enabled view; the internal routes are not public.
  REQUIRE(api.patch("/api/v1/flows/" + id, R"({"enabled":false})").status == 200);
  REQUIRE_FALSE(find_by_id(registry_get("/internal/v1/flows?enabled=true").json, id));
  REQUIRE(find_by_id(registry_get("/internal/v1/flows").json, id));
  REQUIRE(api.get("/internal/v1/flows").status == 404);
}

TEST_CASE("flows: invalid graphs are refused naming the node or edge, and nothing is stored") {
  Api api;
  auto e = make_entities(api);
  const auto before = count_flows(api);
  auto post = [&](const std::string& graph) { return api.post("/api/v1/flows", flow_body(unique("bad"), graph)); };
  const std::string d = node("d", "device", e.device);
  const std::string f = node("f", "function", e.function);
  const std::string i = node("i", "integration", e.integration);

  require_refused(post(R"("nodes":[)" + d + "," + node("d", "function", e.function) + R"(],"edges":[])"),
                  "body/nodes/1/id", "Duplicate node id 'd'");
  require_refused(post(R"("nodes":[)" + node("", "device", e.device) + R"(],"edges":[])"), "body/nodes/0/id",
                  "1 to 255");
  require_refused(post(R"("nodes":[)" + d + "," + node("x", "action", e.function) + R"(],"edges":[])"),
                  "body/nodes/1/type", "'device'");
  require_refused(post(R"("nodes":[{"id":"d","type":"device","data":{"label":"no id"}}],"edges":[])"),
                  "body/nodes/0/data/entityId", "Field required");
  require_refused(post(R"("nodes":[{"id":"d","type":"device","data":{"deviceId":"42"}}],"edges":[])"),
                  "body/nodes/0/data/deviceId", "UUID");
  require_refused(post(R"("nodes":[)" + d + "," + f + R"(],"edges":[)" + edge("e1", "d", "ghost") + "]"),
                  "body/edges/0/target", "'ghost' is not a node");
  require_refused(
      post(R"("nodes":[)" + d + "," + f + R"(],"edges":[)" + edge("e1", "d", "f") + "," + edge("e2", "f", "f") + "]"),
      "body/edges/1/target", "to itself");
  require_refused(post(R"("nodes":[)" + d + "," + f + R"(],"edges":[)" + edge("e1", "f", "d") + "]"),
                  "body/edges/0/target", "device trigger");
  require_refused(post(R"("nodes":[)" + d + "," + f + "," + node("g", "function", e.function) + "," + i +
                       R"(],"edges":[)" + edge("e1", "d", "f") + "," + edge("e2", "f", "g") + "," +
                       edge("e3", "g", "f") + "," + edge("e4", "g", "i") + "]"),
                  "body/nodes/1", "is on a cycle: 'f' -> 'g' -> 'f'");

  // 65 nodes along one path (the limit is 64).
  std::string nodes = d, edges;
  std::string prev = "d";
  for (int k = 1; k <= 64; ++k) {
    const std::string id = "f" + std::to_string(k);
    nodes += "," + node(id, "function", e.function);
    edges += (k > 1 ? "," : "") + edge("e" + std::to_string(k), prev, id);
    prev = id;
  }
  require_refused(post(R"("nodes":[)" + nodes + R"(],"edges":[)" + edges + "]"), "body/nodes/64",
                  "65 nodes long; at most 64");

  // Well-formed, but the entities do not exist.
  const std::string ghost = "9b2f6c1e-0000-4000-8000-000000000001";
  auto missing = post(R"("nodes":[)" + d + R"(,{"id":"f","type":"function","data":{"functionId":")" + ghost +
                      R"("}},{"id":"l","type":"label","data":{"entityId":")" + ghost + R"("}}],"edges":[)" +
                      edge("e1", "d", "f") + "]");
  require_refused(missing, "body/nodes/1/data/functionId", "Function " + ghost + " (node 'f') does not exist");
  require_refused(missing, "body/nodes/2/data/entityId", "Label " + ghost + " (node 'l') does not exist");

  // The body itself.
  require_refused(api.post("/api/v1/flows", R"({"nodes":[],"edges":[]})"), "body/name", "Field required");
  require_refused(api.post("/api/v1/flows", R"({"name":"x","nodes":{},"viewport":{}})"), "body/viewport",
                  "Extra inputs");
  require_refused(api.post("/api/v1/flows", R"({"name":"x","nodes":{}})"), "body/nodes", "valid list");
  require_refused(api.post("/api/v1/flows", R"({"name":"x","enabled":"yes"})"), "body/enabled", "boolean");
  REQUIRE(api.post("/api/v1/flows", R"({"name":)").status == 422);

  REQUIRE(count_flows(api) == before);

  // An update with a bad graph changes nothing either.
  const std::string id = create(api, "/api/v1/flows", flow_body(unique("good"), our_graph(e)));
  auto bad_update =
      api.patch("/api/v1/flows/" + id, R"({"name":"renamed","edges":[)" + edge("e1", "d", "nowhere") + "]}");
  require_refused(bad_update, "body/edges/0/target", "'nowhere' is not a node");
  auto unchanged = api.get("/api/v1/flows/" + id);
  REQUIRE(unchanged["version"].GetInt() == 1);
  REQUIRE(unchanged["edges"].Size() == 4);
  REQUIRE(unchanged.str("name") != "renamed");
}

TEST_CASE("flows: entities used by an enabled flow cannot be deleted") {
  Api api;
  auto e = make_entities(api);
  const std::string name = unique("in-use");
  const std::string id = create(api, "/api/v1/flows", flow_body(name, our_graph(e)));

  // Every entity of its graph is held (each kind's 409: crud_test.cpp).
  REQUIRE(api.del("/api/v1/devices/" + e.device).status == 409);
  REQUIRE(api.del("/api/v1/storages/" + e.storage).status == 409);

  // Removing the storage node from the graph frees the storage at once.
  auto without_storage = api.patch(
      "/api/v1/flows/" + id, R"({"nodes":[)" + node("d", "device", e.device) + "," + node("l", "label", e.label) + "," +
                                 node("f", "function", e.function) + "," + node("i", "integration", e.integration) +
                                 R"(],"edges":[)" + edge("e1", "d", "f") + "," + edge("e2", "l", "f") + "," +
                                 edge("e3", "f", "i") + "]}");
  REQUIRE(without_storage.status == 200);
  REQUIRE(api.del("/api/v1/storages/" + e.storage).status == 204);

  // A disabled flow does not hold its entities.
  REQUIRE(api.patch("/api/v1/flows/" + id, R"({"enabled":false})").status == 200);
  REQUIRE(api.del("/api/v1/devices/" + e.device).status == 204);

  // Enabling it again needs every entity back.
  auto enable = api.patch("/api/v1/flows/" + id, R"({"enabled":true})");
  require_refused(enable, "body/nodes/0/data/entity_id", "Device " + e.device + " (node 'd') does not exist");
  REQUIRE_FALSE(api.get("/api/v1/flows/" + id)["enabled"].GetBool());
  REQUIRE(api.del("/api/v1/flows/" + id).status == 204);
  REQUIRE(api.del("/api/v1/functions/" + e.function).status == 204);
}
