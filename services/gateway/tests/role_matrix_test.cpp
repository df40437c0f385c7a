// Every route of the table (as documented in the OpenAPI document, which is built from it)
// called as nobody, viewer, editor and admin: below the route's role → 401/403; at or above
// it → anything but 401/403 (the owner's own answer: 200, 404, 422, or 503 when the owner
// is not part of this test stack).
#include "api_fixture.hpp"

using dm::test::Api;
using dm::test::As;

namespace {
int rank(const std::string& role) {
  if (role == "public") return 0;
  if (role == "viewer") return 1;
  if (role == "editor") return 2;
  if (role == "admin") return 3;
  FAIL("unknown role " << role);
  return 99;
}
}  // namespace

TEST_CASE("role matrix over every route") {
  Api admin(As::admin);
  auto doc = admin.get("/api/v1/openapi.json");
  REQUIRE(doc.status == 200);
  std::vector<std::pair<As, int>> callers = {{As::anonymous, 0}, {As::viewer, 1}, {As::editor, 2}, {As::admin, 3}};
  std::map<As, std::unique_ptr<Api>> apis;
  for (auto [who, r] : callers) apis[who] = std::make_unique<Api>(who);

  int operations = 0, refused = 0;
  const auto& paths = doc["paths"];
  for (auto p = paths.MemberBegin(); p != paths.MemberEnd(); ++p) {
    std::string path(dm::json::view(p->name));
    for (size_t pos; (pos = path.find('{')) != std::string::npos;) {
      path.replace(pos, path.find('}', pos) - pos + 1, "00000000-0000-0000-0000-000000000000");
    }
    for (auto m = p->value.MemberBegin(); m != p->value.MemberEnd(); ++m) {
      std::string method(dm::json::view(m->name));
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string need(m->value["x-required-role"].GetString());
      // Logging in with an empty body is a 422, not a failed attempt; nothing here is throttled.
      for (auto [who, have] : callers) {
        auto r = apis[who]->call(method, path, method == "GET" || method == "DELETE" ? "" : "{}");
        INFO(method << " " << path << " needs " << need << ", called as " << dm::test::role_of(who) << " → " << r.status
                    << " " << r.body);
        if (have >= rank(need)) {
          CHECK(r.status != 401);
          CHECK(r.status != 403);
        } else if (who == As::anonymous) {
          CHECK(r.status == 401);
          ++refused;
        } else {
          CHECK(r.status == 403);
          ++refused;
        }
      }
      ++operations;
    }
  }
  CHECK(operations > 50);
  CHECK(refused > 100);
}

TEST_CASE("the principal reaches the owner, and clients cannot claim one") {
  Api viewer(As::viewer);
  // A client's own Dm-Role header is stripped: it stays a viewer.
  auto r = viewer.call("POST", "/api/v1/labels", R"({"name":"claimed"})", {{"Dm-Role", "admin"}, {"Dm-User-Id", "x"}});
  CHECK(r.status == 403);
  Api anon(As::anonymous);
  CHECK(anon.call("GET", "/api/v1/devices", {}, {{"Dm-Role", "admin"}}).status == 401);
}
