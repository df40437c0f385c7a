// What every kind of definition shares, over real HTTP through the gateway, one row per kind:
// create, get, list (search, sort, paging, X-Total-Count), partial updates, 404s, delete,
// duplicate names, and 409 while an enabled flow uses it. What is particular to a kind (its
// fields, defaults, filters, secrets, graph rules) is tested in that kind's own file.
#include <cstdio>
#include <functional>
#include <map>

#include "api_fixture.hpp"

using dm::test::Api;
using dm::test::Reply;
using dm::test::total;
using dm::test::unique;

namespace {

struct Kind {
  std::string plural;  // the route: /api/v1/<plural>
  std::string node;    // the node type a flow refers to it by; empty for flows (nothing refers to a flow)
  // A valid create body for a definition named `name`.
  std::function<std::string(const std::string& name)> body;
  int version_after_rename = 2;  // a function's version counts code changes only
  std::string a_kind;            // "A label": the duplicate-name answer; empty when names may repeat
};

// 16 hex digits no other device of this run has.
std::string next_eui() {
  static int n = 0;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", static_cast<unsigned>(::getpid()), static_cast<unsigned>(0xc0de00 + ++n));
  return buf;
}

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> all = {
      {.plural = "devices",
       .node = "device",
       .body =
           [](const std::string& name) { return R"({"dev_eui":")" + next_eui() + R"(","name":")" + name + R"("})"; }},
      {.plural = "labels",
       .node = "label",
       .body = [](const std::string& name) { return R"({"name":")" + name + R"("})"; },
       .a_kind = "A label"},
      {.plural = "functions",
       .node = "function",
       .body = [](const std::string& name) { return R"({"name":")" + name + R"(","code":"return msg;"})"; },
       .version_after_rename = 1,
       .a_kind = "A function"},
      {.plural = "integrations",
       .node = "integration",
       .body =
           [](const std::string& name) {
             return R"({"name":")" + name + R"(","type":"http","config":{"url":"https://example.com/hook"}})";
           },
       .a_kind = "An integration"},
      {.plural = "storages",
       .node = "storage",
       .body = [](const std::string& name) { return R"({"name":")" + name + R"(","type":"internal"})"; },
       .a_kind = "A storage"},
      {.plural = "flows",
       .body = [](const std::string& name) { return R"({"name":")" + name + R"("})"; },
       .a_kind = "A flow"},
  };
  return all;
}

std::string path_of(const Kind& kind) { return "/api/v1/" + kind.plural; }

std::string create(Api& api, const Kind& kind, const std::string& name) {
  auto r = api.post(path_of(kind), kind.body(name));
  INFO(kind.plural << " " << r.body);
  REQUIRE(r.status == 201);
  return r.str("id");
}

const char* const kNobody = "00000000-0000-0000-0000-000000000000";

}  // namespace

TEST_CASE("every kind: create, get, update, delete") {
  const Kind& kind = GENERATE(from_range(kinds()));
  INFO(kind.plural);
  Api api;
  const std::string path = path_of(kind);
  const std::string name = unique(kind.node.empty() ? "flow" : kind.node);

  auto created = api.post(path, kind.body(name));
  REQUIRE(created.status == 201);
  const std::string id = created.str("id");
  CHECK(created.headers.get("Location").value_or("") == path + "/" + id);
  CHECK(created.str("name") == name);
  CHECK(created["version"].GetInt() == 1);
  CHECK_FALSE(created.str("created_at").empty());

  auto got = api.get(path + "/" + id);
  REQUIRE(got.status == 200);
  CHECK(got.body == created.body);

  // PUT and PATCH both take partial bodies; what is left out stays.
  auto renamed = api.patch(path + "/" + id, R"({"name":")" + name + R"(-2"})");
  REQUIRE(renamed.status == 200);
  CHECK(renamed.str("name") == name + "-2");
  CHECK(renamed["version"].GetInt() == kind.version_after_rename);
  CHECK(renamed.str("created_at") == created.str("created_at"));
  auto described = api.put(path + "/" + id, R"({"description":"changed"})");
  REQUIRE(described.status == 200);
  CHECK(described.str("name") == name + "-2");
  CHECK(described.str("description") == "changed");
  CHECK(api.get(path + "/" + id).body == described.body);

  REQUIRE(api.del(path + "/" + id).status == 204);
  CHECK(api.get(path + "/" + id).status == 404);
  CHECK(api.del(path + "/" + id).status == 404);
  CHECK(api.patch(path + "/" + id, R"({"name":"x"})").status == 404);
}

TEST_CASE("every kind: unknown ids are 404, bad list queries 422") {
  const Kind& kind = GENERATE(from_range(kinds()));
  INFO(kind.plural);
  Api api;
  const std::string path = path_of(kind);
  for (const std::string id : {"not-a-uuid", kNobody}) {
    INFO(id);
    auto missing = api.get(path + "/" + id);
    CHECK(missing.status == 404);
    CHECK(missing.str("detail").ends_with(" not found"));
    CHECK(api.put(path + "/" + id, R"({"name":"x"})").status == 404);
    CHECK(api.patch(path + "/" + id, R"({"name":"x"})").status == 404);
    CHECK(api.del(path + "/" + id).status == 404);
  }
  CHECK(api.get(path + "?limit=0").status == 422);
  CHECK(api.get(path + "?limit=1001").status == 422);
  CHECK(api.get(path + "?skip=-1").status == 422);
  CHECK(api.get(path + "?sort=colour").status == 422);
}

TEST_CASE("every kind: lists search, sort and page, with the total in X-Total-Count") {
  const Kind& kind = GENERATE(from_range(kinds()));
  INFO(kind.plural);
  Api api;
  const std::string path = path_of(kind);
  const std::string prefix = unique("paged");
  std::map<std::string, std::string> ids;  // name → id
  for (const char* suffix : {"-b", "-a", "-c"}) ids[prefix + suffix] = create(api, kind, prefix + suffix);

  auto all = api.get(path + "?search=" + prefix);
  REQUIRE(all.status == 200);
  CHECK(total(all) == 3);
  REQUIRE(all.json.Size() == 3);

  auto first = api.get(path + "?search=" + prefix + "&sort=-name&limit=2");
  REQUIRE(first.status == 200);
  CHECK(total(first) == 3);  // of all matches, not of the page
  REQUIRE(first.json.Size() == 2);
  CHECK(first.json[0]["name"] == (prefix + "-c").c_str());
  CHECK(first.json[1]["name"] == (prefix + "-b").c_str());
  auto rest = api.get(path + "?search=" + prefix + "&sort=name&skip=2");
  REQUIRE(rest.json.Size() == 1);
  CHECK(rest.json[0]["id"] == ids[prefix + "-c"].c_str());
  CHECK(total(api.get(path + "?search=" + prefix + "-a")) == 1);
  CHECK(total(api.get(path + "?search=" + unique("nothing"))) == 0);
}

TEST_CASE("every kind: a duplicate name is a conflict and changes nothing") {
  const Kind& kind = GENERATE(filter([](const Kind& k) { return !k.a_kind.empty(); }, from_range(kinds())));
  INFO(kind.plural);
  Api api;
  const std::string path = path_of(kind);
  const std::string name = unique("dup");
  create(api, kind, name);
  const std::string other = create(api, kind, name + "-other");
  const auto before = total(api.get(path + "?limit=1"));

  auto dup = api.post(path, kind.body(name));
  REQUIRE(dup.status == 409);
  CHECK(dup.str("detail") == kind.a_kind + " named '" + name + "' already exists");
  auto original = api.get(path + "/" + other);
  CHECK(api.patch(path + "/" + other, R"({"name":")" + name + R"("})").status == 409);
  CHECK(api.get(path + "/" + other).body == original.body);
  CHECK(total(api.get(path + "?limit=1")) == before);
}

TEST_CASE("every kind a flow uses: deleting it is 409 while an enabled flow uses it") {
  const Kind& kind = GENERATE(filter([](const Kind& k) { return !k.node.empty(); }, from_range(kinds())));
  INFO(kind.plural);
  Api api;
  const std::string path = path_of(kind);
  const std::string id = create(api, kind, unique("used"));
  const std::string flow_name = unique("flow-using-" + kind.node);
  auto flow = api.post("/api/v1/flows", R"({"name":")" + flow_name + R"(","nodes":[{"id":"n","type":")" + kind.node +
                                            R"(","data":{"entityId":")" + id + R"("}}],"edges":[]})");
  REQUIRE(flow.status == 201);

  auto refused = api.del(path + "/" + id);
  REQUIRE(refused.status == 409);
  CHECK(refused.str("detail").find("is used by enabled flows: " + flow_name) != std::string::npos);
  CHECK(api.get(path + "/" + id).status == 200);

  // A disabled flow does not hold it.
  REQUIRE(api.patch("/api/v1/flows/" + flow.str("id"), R"({"enabled":false})").status == 200);
  CHECK(api.del(path + "/" + id).status == 204);
  CHECK(api.get(path + "/" + id).status == 404);
}
