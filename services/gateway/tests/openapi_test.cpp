// The OpenAPI document matches what the gateway routes, and /docs renders it in a real browser.
#include <set>

#include "api_fixture.hpp"

using dm::test::Api;

namespace {
std::string fill_params(std::string path) {
  size_t pos;
  while ((pos = path.find('{')) != std::string::npos) {
    path.replace(pos, path.find('}', pos) - pos + 1, "00000000-0000-0000-0000-000000000000");
  }
  return path;
}
}  // namespace

TEST_CASE("every documented operation is routed, states its role, and nothing routed is undocumented") {
  Api api;
  auto doc = api.get("/api/v1/openapi.json");
  REQUIRE(doc.status == 200);
  REQUIRE(doc.str("openapi") == "3.0.3");
  const auto& paths = doc["paths"];
  REQUIRE(paths.MemberCount() > 20);
  int operations = 0;
  for (auto p = paths.MemberBegin(); p != paths.MemberEnd(); ++p) {
    std::string path(dm::json::view(p->name));
    for (auto m = p->value.MemberBegin(); m != p->value.MemberEnd(); ++m) {
      std::string method(dm::json::view(m->name));
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      INFO(method << " " << path);
      REQUIRE(m->value.HasMember("x-required-role"));
      REQUIRE(std::string(m->value["description"].GetString()).find("Required role:") != std::string::npos);
      // The gateway must route it: its own 404/405 say "Not Found"/"Method Not Allowed";
      // an owner's answer (404 "Device not found", 422, 503 owner down, ...) proves routing.
      auto r = api.call(method, fill_params(path), method == "GET" || method == "DELETE" ? "" : "{}");
      bool gateway_refused = (r.status == 404 && r.str("detail") == "Not Found") || r.status == 405;
      REQUIRE_FALSE(gateway_refused);
      ++operations;
    }
  }
  REQUIRE(operations > 40);
  // Schemas referenced by operations exist.
  const auto& schemas = doc["components"]["schemas"];
  std::string text = doc.body;
  size_t pos = 0;
  while ((pos = text.find("#/components/schemas/", pos)) != std::string::npos) {
    pos += 21;
    std::string name = text.substr(pos, text.find('"', pos) - pos);
    INFO(name);
    REQUIRE(schemas.HasMember(name.c_str()));
  }
}

TEST_CASE("/docs renders the API in headless Chromium") {
  Api api;
  auto page = api.get("/docs");
  REQUIRE(page.status == 200);
  REQUIRE(page.body.find("swagger-ui-bundle.js") != std::string::npos);
  REQUIRE(api.get("/docs/assets/swagger-ui-bundle.js").status == 200);
  dm::testing::TempDir profile("dm-chromium");
  std::string cmd =
      "timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync --disable-quic "
      "--user-data-dir=" +
      profile.path() + " --virtual-time-budget=15000 --dump-dom " + dm::test::stack().url("gateway") +
      "/docs 2>/dev/null";
  auto out = dm::testing::run_command(cmd);
  INFO(out.output.substr(0, 2000));
  REQUIRE(out.exit_code == 0);
  // Swagger UI rendered operation blocks for our endpoints.
  REQUIRE(out.output.find("opblock") != std::string::npos);
  REQUIRE(out.output.find("/api/v1/devices/{id}") != std::string::npos);
  REQUIRE(out.output.find("Device Manager API") != std::string::npos);
}
