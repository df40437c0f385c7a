// Functions over real HTTP through the gateway.
#include "api_fixture.hpp"

using dm::test::Api;
using dm::test::Reply;
using dm::test::sql;
using dm::test::total;
using dm::test::unique;

namespace {

std::int64_t count_functions(Api& api) { return total(api.get("/api/v1/functions?limit=1")); }

std::string create_function(Api& api, const std::string& name, const std::string& code = "return msg;") {
  auto r = api.post("/api/v1/functions", R"({"name":")" + name + R"(","code":")" + code + R"("})");
  REQUIRE(r.status == 201);
  return r.str("id");
}

// An enabled flow that uses (kind, id), written directly as the flow service would.
void flow_using(const std::string& flow, const std::string& kind, const std::string& id) {
  sql("WITH f AS (INSERT INTO registry.flows (name, enabled) VALUES ('" + flow +
      "', true) RETURNING id) "
      "INSERT INTO registry.flow_refs (flow_id, node_id, kind, entity_id) SELECT id, 'n1', '" +
      kind + "', '" + id + "' FROM f");
}

}  // namespace

TEST_CASE("functions: create, get, list, update, delete") {
  Api api;
  std::string name = unique("celsius");
  auto created = api.post(
      "/api/v1/functions",
      R"({"name":")" + name +
          R"(","description":"converts","code":"return {t: msg.t * 1.8 + 32};",)"
          R"("parameters":[{"name":"unit","type":"string","description":"C or F","required":true,"default":"C"},)"
          R"({"name":"factor","type":"number"}]})");
  REQUIRE(created.status == 201);
  std::string id = created.str("id");
  REQUIRE(created.headers.get("Location").value_or("") == "/api/v1/functions/" + id);
  REQUIRE(created["version"].GetInt() == 1);
  REQUIRE(created.str("status") == "inactive");
  REQUIRE(created["last_run_at"].IsNull());
  REQUIRE(created.str("description") == "converts");
  REQUIRE(created["parameters"].Size() == 2);
  REQUIRE(created["parameters"][0]["required"].GetBool());
  REQUIRE(created["parameters"][0]["default"] == "C");
  REQUIRE(created["parameters"][1]["required"].GetBool() == false);  // defaults filled in
  REQUIRE(created["parameters"][1]["default"].IsNull());
  REQUIRE(created["parameters"][1]["description"].IsNull());

  auto got = api.get("/api/v1/functions/" + id);
  REQUIRE(got.status == 200);
  REQUIRE(got.body == created.body);

  auto list = api.get("/api/v1/functions?search=" + name);
  REQUIRE(list.status == 200);
  REQUIRE(total(list) == 1);
  REQUIRE(list.json.Size() == 1);
  REQUIRE(list.json[0]["id"] == id.c_str());
  REQUIRE(total(api.get("/api/v1/functions?status=inactive&search=" + name)) == 1);
  REQUIRE(total(api.get("/api/v1/functions?status=success&search=" + name)) == 0);

  SECTION("version grows only when the code changes") {
    auto renamed = api.patch("/api/v1/functions/" + id, R"({"name":")" + name + R"(-2","description":null})");
    REQUIRE(renamed.status == 200);
    REQUIRE(renamed.str("name") == name + "-2");
    REQUIRE(renamed.str("description").empty());
    REQUIRE(renamed["version"].GetInt() == 1);
    REQUIRE(renamed["parameters"].Size() == 2);  // untouched by a partial update

    auto same_code = api.put("/api/v1/functions/" + id, R"({"code":"return {t: msg.t * 1.8 + 32};"})");
    REQUIRE(same_code.status == 200);
    REQUIRE(same_code["version"].GetInt() == 1);

    auto new_code = api.put("/api/v1/functions/" + id, R"({"code":"return msg;"})");
    REQUIRE(new_code.status == 200);
    REQUIRE(new_code["version"].GetInt() == 2);
    REQUIRE(new_code.str("code") == "return msg;");

    auto params = api.patch("/api/v1/functions/" + id, R"({"parameters":[]})");
    REQUIRE(params.status == 200);
    REQUIRE(params["parameters"].Size() == 0);
    REQUIRE(params["version"].GetInt() == 2);

    auto code_again = api.patch("/api/v1/functions/" + id, R"({"code":"return null;","name":")" + name + R"("})");
    REQUIRE(code_again["version"].GetInt() == 3);

    // A document sent back as it was read: read-only fields are ignored.
    auto echoed = api.put("/api/v1/functions/" + id, api.get("/api/v1/functions/" + id).body);
    REQUIRE(echoed.status == 200);
    REQUIRE(echoed["version"].GetInt() == 3);
  }

  SECTION("delete") {
    REQUIRE(api.del("/api/v1/functions/" + id).status == 204);
    REQUIRE(api.get("/api/v1/functions/" + id).status == 404);
    REQUIRE(api.del("/api/v1/functions/" + id).status == 404);
    REQUIRE(api.patch("/api/v1/functions/" + id, R"({"name":"x"})").status == 404);
  }
}

TEST_CASE("functions: sorting and paging") {
  Api api;
  std::string prefix = unique("sorted");
  for (const char* suffix : {"-b", "-a", "-c"}) create_function(api, prefix + suffix);
  auto page = api.get("/api/v1/functions?search=" + prefix + "&sort=-name&limit=2");
  REQUIRE(page.status == 200);
  REQUIRE(total(page) == 3);
  REQUIRE(page.json.Size() == 2);
  REQUIRE(page.json[0]["name"] == (prefix + "-c").c_str());
  REQUIRE(page.json[1]["name"] == (prefix + "-b").c_str());
  auto rest = api.get("/api/v1/functions?search=" + prefix + "&sort=name&skip=2");
  REQUIRE(rest.json.Size() == 1);
  REQUIRE(rest.json[0]["name"] == (prefix + "-c").c_str());
}

TEST_CASE("functions: duplicate names are conflicts") {
  Api api;
  std::string name = unique("dup");
  create_function(api, name);
  std::string other = create_function(api, name + "-other");
  auto before = count_functions(api);

  auto dup = api.post("/api/v1/functions", R"({"name":")" + name + R"(","code":"return 1;"})");
  REQUIRE(dup.status == 409);
  REQUIRE(dup.str("detail") == "A function named '" + name + "' already exists");

  auto original = api.get("/api/v1/functions/" + other);
  auto rename = api.patch("/api/v1/functions/" + other, R"({"name":")" + name + R"(","code":"changed"})");
  REQUIRE(rename.status == 409);
  REQUIRE(api.get("/api/v1/functions/" + other).body == original.body);
  REQUIRE(count_functions(api) == before);
}

TEST_CASE("functions: bad input is refused and changes nothing") {
  Api api;
  std::string id = create_function(api, unique("target"));
  auto original = api.get("/api/v1/functions/" + id);
  auto before = count_functions(api);

  auto missing = api.post("/api/v1/functions", R"({"description":"no name, no code"})");
  REQUIRE(missing.status == 422);
  REQUIRE(missing.has_error_for("name"));
  REQUIRE(missing.has_error_for("code"));

  auto types = api.post("/api/v1/functions", R"({"name":5,"code":["x"],"description":true,"parameters":{}})");
  REQUIRE(types.status == 422);
  REQUIRE(types.has_error_for("name"));
  REQUIRE(types.has_error_for("code"));
  REQUIRE(types.has_error_for("description"));
  REQUIRE(types.has_error_for("parameters"));

  auto empty = api.post("/api/v1/functions", R"({"name":"","code":""})");
  REQUIRE(empty.status == 422);
  REQUIRE(empty.has_error_for("name"));
  REQUIRE(empty.has_error_for("code"));

  auto unknown = api.post("/api/v1/functions", R"({"name":"u","code":"x","language":"python"})");
  REQUIRE(unknown.status == 422);
  REQUIRE(unknown.has_error_for("language"));

  auto status = api.post("/api/v1/functions", R"({"name":"u","code":"x","version":"seven"})");
  REQUIRE(status.status == 201);  // read-only fields are ignored, whatever they hold
  REQUIRE(status["version"].GetInt() == 1);
  REQUIRE(api.del("/api/v1/functions/" + status.str("id")).status == 204);

  std::string big(256 * 1024 + 1, 'x');
  auto oversize = api.post("/api/v1/functions", R"({"name":"big","code":")" + big + R"("})");
  REQUIRE(oversize.status == 422);
  REQUIRE(oversize.has_error_for("code"));
  REQUIRE(api.patch("/api/v1/functions/" + id, R"({"code":")" + big + R"("})").status == 422);

  SECTION("parameters") {
    auto not_object = api.post("/api/v1/functions", R"({"name":"p","code":"x","parameters":["unit"]})");
    REQUIRE(not_object.status == 422);
    REQUIRE(not_object.has_error_for("0"));

    auto bad = api.post("/api/v1/functions",
                        R"({"name":"p","code":"x","parameters":[{"type":"string"},{"name":"a","type":"date"},)"
                        R"({"name":"b","type":"integer","default":1.5},{"name":"c","required":"yes"},)"
                        R"({"name":"d","unit":"C"},{"name":"e"},{"name":"e"}]})");
    REQUIRE(bad.status == 422);
    const auto& detail = bad["detail"];
    auto has = [&](int index, const char* field) {
      for (const auto& e : detail.GetArray()) {
        const auto& loc = e["loc"];
        if (loc.Size() == 4 && loc[2].IsInt() && loc[2].GetInt() == index && loc[3] == field) return true;
      }
      return false;
    };
    REQUIRE(has(0, "name"));
    REQUIRE(has(1, "type"));
    REQUIRE(has(2, "default"));
    REQUIRE(has(3, "required"));
    REQUIRE(has(4, "unit"));
    REQUIRE(has(6, "name"));
    REQUIRE_FALSE(has(5, "name"));
  }

  SECTION("malformed bodies, ids and queries") {
    REQUIRE(api.post("/api/v1/functions", R"({"name":"x","code":)").status == 422);
    REQUIRE(api.post("/api/v1/functions", R"(["name"])").status == 422);
    REQUIRE(api.patch("/api/v1/functions/" + id, R"({"name":)").status == 422);
    REQUIRE(api.patch("/api/v1/functions/" + id, R"({"name":null})").status == 422);
    REQUIRE(api.put("/api/v1/functions/" + id, R"({"status":"success","colour":1})").status == 422);
    REQUIRE(api.get("/api/v1/functions/not-a-uuid").status == 404);
    REQUIRE(api.put("/api/v1/functions/not-a-uuid", R"({"name":"x"})").status == 404);
    REQUIRE(api.del("/api/v1/functions/not-a-uuid").status == 404);
    REQUIRE(api.get("/api/v1/functions/00000000-0000-0000-0000-000000000000").status == 404);
    REQUIRE(api.get("/api/v1/functions?status=running").status == 422);
    REQUIRE(api.get("/api/v1/functions?limit=0").status == 422);
    REQUIRE(api.get("/api/v1/functions?sort=code").status == 422);
  }

  REQUIRE(api.get("/api/v1/functions/" + id).body == original.body);
  REQUIRE(count_functions(api) == before);
}

TEST_CASE("functions: an enabled flow that uses a function prevents its deletion") {
  Api api;
  std::string id = create_function(api, unique("used"));
  std::string flow = unique("flow-using-function");
  flow_using(flow, "function", id);
  auto refused = api.del("/api/v1/functions/" + id);
  REQUIRE(refused.status == 409);
  REQUIRE(refused.str("detail").find(flow) != std::string::npos);
  REQUIRE(api.get("/api/v1/functions/" + id).status == 200);

  sql("UPDATE registry.flows SET enabled = false WHERE name = '" + flow + "'");
  REQUIRE(api.del("/api/v1/functions/" + id).status == 204);
}
