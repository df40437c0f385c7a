// Accounts, tokens and keys over real HTTP: registration, login (form and JSON), /auth/me,
// API keys, user administration, forged credentials, deactivation, and what the database
// holds.
#include <thread>

#include "api_fixture.hpp"
#include "crypto.hpp"
#include "dm/core/time.hpp"
#include "token.hpp"

using dm::test::Api;
using dm::test::As;
using dm::test::stack;
namespace gw = dm::gateway;

namespace {
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string user_json(const std::string& name, const std::string& password) {
  return R"({"email":")" + name + R"(@example.com","username":")" + name + R"(","password":")" + password + R"("})";
}

// Registers a fresh user; returns its id.
std::string register_user(Api& anon, const std::string& name, const std::string& password) {
  auto r = anon.post("/api/v1/auth/register", user_json(name, password));
  REQUIRE(r.status == 201);
  return r.str("id");
}

std::string login(Api& anon, const std::string& user, const std::string& password) {
  auto r = anon.call("POST", "/api/v1/auth/login", "username=" + user + "&password=" + password,
                     {{"Content-Type", "application/x-www-form-urlencoded"}});
  REQUIRE(r.status == 200);
  return r.str("access_token");
}

std::string sign(const std::string& header_json, const std::string& payload_json, const std::string& key) {
  std::string input = gw::base64url_encode(header_json) + "." + gw::base64url_encode(payload_json);
  return input + "." + gw::base64url_encode(gw::hmac_sha256(key, input));
}

std::string admin_id() {
  Api admin;
  auto me = admin.get("/api/v1/auth/me");
  REQUIRE(me.status == 200);
  return me.str("id");
}
}  // namespace

TEST_CASE("register, log in with a form or JSON, and read /auth/me") {
  Api anon(As::anonymous);
  auto name = dm::test::unique("alice");
  auto r = anon.post("/api/v1/auth/register", user_json(name, "correct horse battery"));
  REQUIRE(r.status == 201);
  CHECK(r.str("username") == name);
  CHECK(r.str("role") == "viewer");  // the default role
  CHECK(r.body.find("password") == std::string::npos);
  CHECK(r.body.find("pbkdf2") == std::string::npos);

  SECTION("duplicates are 409, weak or malformed input 422, and nothing is created") {
    CHECK(anon.post("/api/v1/auth/register", user_json(name, "another password")).status == 409);
    auto same_email =
        R"({"email":")" + name + R"(@EXAMPLE.com","username":"other-)" + name + R"(","password":"0123456789"})";
    CHECK(anon.post("/api/v1/auth/register", same_email).status == 409);
    auto weak = anon.post("/api/v1/auth/register", user_json(name + "x", "short"));
    CHECK(weak.status == 422);
    CHECK(weak.has_error_for("password"));
    CHECK(anon.post("/api/v1/auth/register", R"({"email":"not-an-email","username":"bob123","password":"0123456789"})")
              .status == 422);
    CHECK(anon.post("/api/v1/auth/register", "{").status == 422);
    // A role in the body is ignored: registration never grants more than the default.
    auto sneaky = anon.post("/api/v1/auth/register", R"({"email":")" + name + R"(-r@example.com","username":")" + name +
                                                         R"(-r","password":"0123456789","role":"admin"})");
    CHECK(sneaky.status == 201);
    CHECK(sneaky.str("role") == "viewer");
  }

  SECTION("login: form and JSON, by username or email; the token opens /auth/me") {
    auto form = anon.call("POST", "/api/v1/auth/login", "username=" + name + "&password=correct+horse+battery",
                          {{"Content-Type", "application/x-www-form-urlencoded"}});
    REQUIRE(form.status == 200);
    CHECK(form.str("token_type") == "bearer");
    CHECK(form["expires_in"].GetInt() == 3600);
    auto json = anon.post("/api/v1/auth/login",
                          R"({"username":")" + name + R"(@example.com","password":"correct horse battery"})");
    REQUIRE(json.status == 200);
    Api me(As::anonymous);
    me.set_authorization("Bearer " + json.str("access_token"));
    auto who = me.get("/api/v1/auth/me");
    REQUIRE(who.status == 200);
    CHECK(who.str("username") == name);
    CHECK(who.body.find("password") == std::string::npos);
    // A viewer reads but cannot write.
    CHECK(me.get("/api/v1/devices").status == 200);
    CHECK(me.post("/api/v1/labels", R"({"name":"x"})").status == 403);
  }

  SECTION("a wrong password and an unknown user get the same answer") {
    auto wrong = anon.post("/api/v1/auth/login", R"({"username":")" + name + R"(","password":"wrong password"})");
    auto unknown =
        anon.post("/api/v1/auth/login", R"({"username":"nobody-)" + name + R"(","password":"wrong password"})");
    CHECK(wrong.status == 401);
    CHECK(unknown.status == 401);
    CHECK(wrong.body == unknown.body);
    CHECK(anon.post("/api/v1/auth/login", R"({"username":")" + name + R"("})").status == 422);
  }
}

TEST_CASE("forged, expired and malformed credentials are 401 on every protected route") {
  Api anon(As::anonymous);
  auto doc = anon.get("/api/v1/openapi.json");
  REQUIRE(doc.status == 200);
  const std::string key = stack().secret_key();
  const std::string sub = admin_id();
  auto now = unix_now();
  auto payload = [&](const std::string& extra_typ, std::int64_t exp, const std::string& role = "admin") {
    return R"({"sub":")" + sub + R"(","role":")" + role + R"(","typ":")" + extra_typ + R"(","jti":"j1","iat":)" +
           std::to_string(now - 10) + R"(,"exp":)" + std::to_string(exp) + "}";
  };
  const std::string hs256 = R"({"alg":"HS256","typ":"JWT"})";
  std::string valid = sign(hs256, payload("access", now + 600), key);
  auto tampered = valid;
  {
    // Same signature, payload changed (role viewer → admin for a viewer's token, here exp).
    auto d1 = valid.find('.');
    auto d2 = valid.find('.', d1 + 1);
    tampered = valid.substr(0, d1) + "." + gw::base64url_encode(payload("access", now + 99999)) + valid.substr(d2);
  }
  std::vector<std::pair<std::string, dm::http::Headers>> forgeries = {
      {"no credentials", {}},
      {"malformed header", {{"Authorization", "Token " + valid}}},
      {"bearer without token", {{"Authorization", "Bearer "}}},
      {"not a JWT", {{"Authorization", "Bearer abc.def"}}},
      {"alg none",
       {{"Authorization", "Bearer " + gw::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                              gw::base64url_encode(payload("access", now + 600)) + "."}}},
      {"alg HS512 with our key",
       {{"Authorization", "Bearer " + sign(R"({"alg":"HS512","typ":"JWT"})", payload("access", now + 600), key)}}},
      {"wrong signature", {{"Authorization", "Bearer " + sign(hs256, payload("access", now + 600), key + "x")}}},
      {"tampered payload", {{"Authorization", "Bearer " + tampered}}},
      {"expired", {{"Authorization", "Bearer " + sign(hs256, payload("access", now - 1), key)}}},
      {"wrong type of token", {{"Authorization", "Bearer " + sign(hs256, payload("refresh", now + 600), key)}}},
      {"unknown subject",
       {{"Authorization",
         "Bearer " +
             sign(hs256,
                  R"({"sub":"00000000-0000-0000-0000-000000000000","role":"admin","typ":"access","jti":"j","iat":)" +
                      std::to_string(now) + R"(,"exp":)" + std::to_string(now + 600) + "}",
                  key)}}},
      {"unknown API key", {{"X-API-Key", "dmk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}},
      {"API key as bearer", {{"Authorization", "Bearer dmk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}},
  };
  // The control: the correctly signed token works.
  CHECK(anon.call("GET", "/api/v1/auth/me", {}, {{"Authorization", "Bearer " + valid}}).status == 200);

  int checked = 0;
  const auto& paths = doc["paths"];
  for (auto p = paths.MemberBegin(); p != paths.MemberEnd(); ++p) {
    std::string path(dm::json::view(p->name));
    for (size_t pos; (pos = path.find('{')) != std::string::npos;) {
      path.replace(pos, path.find('}', pos) - pos + 1, "00000000-0000-0000-0000-000000000000");
    }
    for (auto m = p->value.MemberBegin(); m != p->value.MemberEnd(); ++m) {
      if (std::string(m->value["x-required-role"].GetString()) == "public") continue;
      std::string method(dm::json::view(m->name));
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      for (const auto& [what, headers] : forgeries) {
        INFO(method << " " << path << ": " << what);
        auto r = anon.call(method, path, method == "GET" || method == "DELETE" ? "" : "{}", headers);
        CHECK(r.status == 401);
        CHECK(r.headers.get("WWW-Authenticate") == std::optional<std::string>("Bearer"));
        ++checked;
      }
    }
  }
  CHECK(checked > 500);
  // Unknown paths under the API say nothing to anonymous callers either.
  CHECK(anon.get("/api/v1/no-such-thing").status == 401);
  // Public routes stay public.
  CHECK(anon.get("/healthz").status == 200);
  CHECK(anon.get("/api/v1/openapi.json").status == 200);
}

TEST_CASE("API keys: shown once, stored as a hash, limited to the creator's role, revocable") {
  Api editor(As::editor);
  auto made = editor.post("/api/v1/auth/api-keys", R"({"name":"ci"})");
  REQUIRE(made.status == 201);
  auto key = made.str("key");
  REQUIRE(key.rfind("dmk_", 0) == 0);
  CHECK(made.str("role") == "editor");
  CHECK(editor.post("/api/v1/auth/api-keys", R"({"name":"too much","role":"admin"})").status == 403);
  CHECK(editor.post("/api/v1/auth/api-keys", R"({"name":"past","expires_at":"2000-01-01T00:00:00Z"})").status == 422);
  CHECK(editor.post("/api/v1/auth/api-keys", R"({"name":""})").status == 422);

  Api by_key(As::anonymous);
  auto with_key = [&](const std::string& method, const std::string& target, const std::string& body = {}) {
    return by_key.call(method, target, body, {{"X-API-Key", key}});
  };
  CHECK(with_key("GET", "/api/v1/devices").status == 200);
  auto label = with_key("POST", "/api/v1/labels", R"({"name":")" + dm::test::unique("key-label") + R"("})");
  CHECK(label.status == 201);
  CHECK(with_key("GET", "/api/v1/users").status == 403);

  auto viewer_key = editor.post("/api/v1/auth/api-keys", R"({"name":"read only","role":"viewer"})");
  REQUIRE(viewer_key.status == 201);
  CHECK(by_key.call("POST", "/api/v1/labels", R"({"name":"nope"})", {{"X-API-Key", viewer_key.str("key")}}).status ==
        403);

  auto list = editor.get("/api/v1/auth/api-keys");
  REQUIRE(list.status == 200);
  CHECK(list.body.find(key) == std::string::npos);
  CHECK(list.body.find(made.str("id")) != std::string::npos);
  // Only an admin sees other people's keys; a viewer cannot revoke the editor's key.
  Api viewer(As::viewer);
  CHECK(viewer.get("/api/v1/auth/api-keys").body.find(made.str("id")) == std::string::npos);
  CHECK(viewer.del("/api/v1/auth/api-keys/" + made.str("id")).status == 404);
  Api admin;
  CHECK(admin.get("/api/v1/auth/api-keys").body.find(made.str("id")) != std::string::npos);

  // A key with an expiry stops working at that moment.
  auto soon = dm::format_rfc3339(dm::now() + std::chrono::seconds(2));
  auto brief = editor.post("/api/v1/auth/api-keys", R"({"name":"brief","expires_at":")" + soon + R"("})");
  REQUIRE(brief.status == 201);
  CHECK(by_key.call("GET", "/api/v1/devices", {}, {{"X-API-Key", brief.str("key")}}).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(by_key.call("GET", "/api/v1/devices", {}, {{"X-API-Key", brief.str("key")}}).status == 401);

  CHECK(editor.del("/api/v1/auth/api-keys/" + made.str("id")).status == 204);
  CHECK(with_key("GET", "/api/v1/devices").status == 401);
  CHECK(editor.del("/api/v1/auth/api-keys/not-a-uuid").status == 404);
}

TEST_CASE("the database holds no plaintext password or API key") {
  Api anon(As::anonymous);
  auto name = dm::test::unique("secretive");
  const std::string password = "plaintext-password-4711";
  auto id = register_user(anon, name, password);
  Api admin;
  auto key = admin.post("/api/v1/auth/api-keys", R"({"name":"db check","role":"viewer"})");
  REQUIRE(key.status == 201);
  auto dump = stack().pg().psql(
      "device_manager", "SELECT row_to_json(u) FROM gateway.users u; SELECT row_to_json(k) FROM gateway.api_keys k;");
  REQUIRE(dump.exit_code == 0);
  CHECK(dump.output.find(name) != std::string::npos);
  CHECK(dump.output.find(password) == std::string::npos);
  CHECK(dump.output.find(key.str("key")) == std::string::npos);
  CHECK(dump.output.find(key.str("key").substr(12)) == std::string::npos);
  CHECK(dump.output.find("pbkdf2_sha256$600000$") != std::string::npos);
  CHECK(dump.output.find(gw::sha256_hex(key.str("key"))) != std::string::npos);
}

TEST_CASE("deactivation and role changes take effect on the next request") {
  Api anon(As::anonymous);
  auto name = dm::test::unique("leaver");
  auto id = register_user(anon, name, "leaver-password-1");
  Api user(As::anonymous);
  user.set_authorization("Bearer " + login(anon, name, "leaver-password-1"));
  auto key = user.post("/api/v1/auth/api-keys", R"({"name":"mine"})");
  REQUIRE(key.status == 201);
  auto with_key = [&] { return anon.call("GET", "/api/v1/devices", {}, {{"X-API-Key", key.str("key")}}); };
  REQUIRE(user.get("/api/v1/auth/me").status == 200);
  REQUIRE(with_key().status == 200);

  Api admin;
  CHECK(user.post("/api/v1/labels", R"({"name":")" + dm::test::unique("before") + R"("})").status == 403);
  REQUIRE(admin.patch("/api/v1/users/" + id, R"({"role":"editor"})").status == 200);
  CHECK(user.post("/api/v1/labels", R"({"name":")" + dm::test::unique("after") + R"("})").status == 201);
  // The key was made as a viewer: it stays a viewer key.
  CHECK(anon.call("POST", "/api/v1/labels", R"({"name":"k"})", {{"X-API-Key", key.str("key")}}).status == 403);

  auto off = admin.post("/api/v1/users/" + id + "/deactivate", "");
  REQUIRE(off.status == 200);
  CHECK_FALSE(off["is_active"].GetBool());
  CHECK(user.get("/api/v1/auth/me").status == 401);
  CHECK(with_key().status == 401);
  CHECK(anon.post("/api/v1/auth/login", R"({"username":")" + name + R"(","password":"leaver-password-1"})").status ==
        401);

  REQUIRE(admin.patch("/api/v1/users/" + id, R"({"is_active":true})").status == 200);
  CHECK(user.get("/api/v1/auth/me").status == 200);
  CHECK(with_key().status == 200);

  // Admin endpoints: the list, bad input, unknown ids, and the last admin is protected.
  auto users = admin.get("/api/v1/users?limit=1000");
  REQUIRE(users.status == 200);
  CHECK(users.body.find(name) != std::string::npos);
  CHECK(users.body.find("password") == std::string::npos);
  CHECK(admin.patch("/api/v1/users/" + id, R"({"role":"root"})").status == 422);
  CHECK(admin.patch("/api/v1/users/00000000-0000-0000-0000-000000000000", R"({"role":"viewer"})").status == 404);
  CHECK(admin.post("/api/v1/users/" + admin_id() + "/deactivate", "").status == 409);
  CHECK(admin.get("/api/v1/auth/me").status == 200);
}

TEST_CASE("dm-admin creates the first admin on a fresh database, once") {
  dm::testing::Stack fresh({});  // NATS and PostgreSQL only: the gateway schema is empty
  auto made = fresh.admin_tool("create-admin root@example.com root root-password-1");
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  CHECK(made.output.find("Created") != std::string::npos);
  auto hash = fresh.pg().psql("device_manager",
                              "SELECT password_hash || '|' || role FROM gateway.users WHERE username = 'root'");
  REQUIRE(hash.exit_code == 0);
  auto line = hash.output.substr(hash.output.find("pbkdf2"));
  line = line.substr(0, line.find('|'));
  CHECK(gw::verify_password("root-password-1", line));
  CHECK(hash.output.find("|admin") != std::string::npos);

  auto again = fresh.admin_tool("create-admin root@example.com root another-password-2");
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("already exists") != std::string::npos);
  auto after = fresh.pg().psql("device_manager", "SELECT password_hash FROM gateway.users");
  CHECK(after.output.find(line) != std::string::npos);
  CHECK(fresh.admin_tool("create-admin root@example.com").exit_code == 2);
  CHECK(fresh.admin_tool("create-admin x@example.com xyz short").exit_code == 2);
}
