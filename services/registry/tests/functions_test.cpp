// Functions over real HTTP through the gateway.
#include "api_fixture.hpp"

using dm::test::Api;
using dm::test::Reply;
using dm::test::total;
using dm::test::unique;

namespace {

std::int64_t count_functions(Api& api) { return total(api.get("/api/v1/functions?limit=1")); }

std::string create_function(Api& api, const std::string& name, const std::string& code = "return msg;") {
  auto r = api.post("/api/v1/functions", R"({"name":")" + name + R"(","code":")" + code + R"("})");
  REQUIRE(r.status == 201);
  return r.str("id");
}

}  // namespace

// Create, get, list, update and delete as every kind does them: crud_test.cpp.
TEST_CASE("functions: parameters are normalised, status filters, the version counts code changes") {
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
  REQUIRE(created.str("status") == "inactive");
  REQUIRE(created["last_run_at"].IsNull());
  REQUIRE(created.str("description") == "converts");
  REQUIRE(created["parameters"].Size() == 2);
  REQUIRE(created["parameters"][0]["required"].GetBool());
  REQUIRE(created["parameters"][0]["default"] == "C");
  REQUIRE(created["parameters"][1]["required"].GetBool() == false);  // defaults filled in
  REQUIRE(created["parameters"][1]["default"].IsNull());
  REQUIRE(created["parameters"][1]["description"].IsNull());

  REQUIRE(total(api.get("/api/v1/functions?status=inactive&search=" + name)) == 1);
  REQUIRE(total(api.get("/api/v1/functions?status=success&search=" + name)) == 0);

  // The version grows only when the code changes.
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

  SECTION("malformed bodies and queries") {
    REQUIRE(api.post("/api/v1/functions", R"({"name":"x","code":)").status == 422);
    REQUIRE(api.post("/api/v1/functions", R"(["name"])").status == 422);
    REQUIRE(api.patch("/api/v1/functions/" + id, R"({"name":)").status == 422);
    REQUIRE(api.patch("/api/v1/functions/" + id, R"({"name":null})").status == 422);
    REQUIRE(api.put("/api/v1/functions/" + id, R"({"status":"success","colour":1})").status == 422);
    REQUIRE(api.get("/api/v1/functions?status=running").status == 422);
    REQUIRE(api.get("/api/v1/functions?sort=code").status == 422);
  }

  REQUIRE(api.get("/api/v1/functions/" + id).body == original.body);
  REQUIRE(count_functions(api) == before);
}
