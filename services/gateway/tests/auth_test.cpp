// Accounts, tokens and keys over real HTTP: registration, login (form and JSON), /auth/me,
// password changes, API keys, user administration, forged credentials, deactivation, token
// versions, and what the database holds. The stack trusts X-Forwarded-For from loopback, so
// that checks which send many bad credentials can speak for several client addresses and stay
// within each address's failure budget.
#include <thread>

#include "api_fixture.hpp"
#include "crypto.hpp"
#include "dm/core/time.hpp"
#include "token.hpp"

using dm::test::Api;
using dm::test::As;
namespace gw = dm::gateway;

namespace {
dm::testing::Stack& stack() {
  static dm::testing::Stack s({"registry", "gateway"}, {{"TRUSTED_PROXIES", "127.0.0.1"}});
  return s;
}

// A client address of its own for each call (registrations are limited per address).
dm::http::Headers from_new_address() {
  static int n = 0;
  ++n;
  return {{"X-Forwarded-For", "10.77." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 1)}};
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string user_json(const std::string& name, const std::string& password) {
  return R"({"email":")" + name + R"(@example.com","username":")" + name + R"(","password":")" + password + R"("})";
}

std::string login(Api& anon, const std::string& user, const std::string& password) {
  auto r = anon.call("POST", "/api/v1/auth/login", "username=" + user + "&password=" + password,
                     {{"Content-Type", "application/x-www-form-urlencoded"}});
  REQUIRE(r.status == 200);
  return r.str("access_token");
}

// The user behind a token.
std::string id_of(Api& anon, const std::string& token) {
  auto me = anon.call("GET", "/api/v1/auth/me", {}, {{"Authorization", "Bearer " + token}});
  REQUIRE(me.status == 200);
  return me.str("id");
}

// Registers a fresh user (from an address of its own); returns its id.
std::string register_user(Api& anon, const std::string& name, const std::string& password) {
  auto r = anon.call("POST", "/api/v1/auth/register", user_json(name, password), from_new_address());
  REQUIRE(r.status == 202);
  return id_of(anon, login(anon, name, password));
}

std::string sign(const std::string& header_json, const std::string& payload_json, const std::string& key) {
  std::string input = dm::base64url_encode(header_json) + "." + dm::base64url_encode(payload_json);
  return input + "." + dm::base64url_encode(gw::hmac_sha256(key, input));
}

std::string admin_id() {
  Api admin(stack());
  auto me = admin.get("/api/v1/auth/me");
  REQUIRE(me.status == 200);
  return me.str("id");
}
}  // namespace

TEST_CASE("register, log in with a form or JSON, and read /auth/me") {
  Api anon(stack(), As::anonymous);
  auto name = dm::test::unique("alice");
  auto r = anon.call("POST", "/api/v1/auth/register", user_json(name, "correct horse battery"), from_new_address());
  REQUIRE(r.status == 202);
  CHECK(r.body.find("password") == std::string::npos);
  CHECK(r.body.find(name) == std::string::npos);
  auto made = anon.call("GET", "/api/v1/auth/me", {},
                        {{"Authorization", "Bearer " + login(anon, name, "correct horse battery")}});
  REQUIRE(made.status == 200);
  CHECK(made.str("username") == name);
  CHECK(made.str("role") == "viewer");  // the default role
  CHECK(made.body.find("pbkdf2") == std::string::npos);

  SECTION("a taken email or username gets the free one's answer and changes nothing; bad input is 422") {
    auto free_name = dm::test::unique("free");
    auto free = anon.call("POST", "/api/v1/auth/register", user_json(free_name, "free password 1"), from_new_address());
    auto taken = anon.call("POST", "/api/v1/auth/register", user_json(name, "another password"), from_new_address());
    auto same_email =
        R"({"email":")" + name + R"(@EXAMPLE.com","username":"other-)" + name + R"(","password":"0123456789"})";
    auto taken_email = anon.call("POST", "/api/v1/auth/register", same_email, from_new_address());
    CHECK(free.status == 202);
    CHECK(taken.status == free.status);
    CHECK(taken.body == free.body);
    CHECK(taken_email.status == free.status);
    CHECK(taken_email.body == free.body);
    // The free one exists now; the taken one kept its password, the other username was not made.
    CHECK(login(anon, free_name, "free password 1").size() > 20);
    CHECK(anon.post("/api/v1/auth/login", R"({"username":")" + name + R"(","password":"another password"})").status ==
          401);
    CHECK(anon.post("/api/v1/auth/login", R"({"username":"other-)" + name + R"(","password":"0123456789"})").status ==
          401);

    auto weak = anon.post("/api/v1/auth/register", user_json(name + "x", "short"));
    CHECK(weak.status == 422);
    CHECK(weak.has_error_for("password"));
    CHECK(anon.post("/api/v1/auth/register", R"({"email":"not-an-email","username":"bob123","password":"0123456789"})")
              .status == 422);
    CHECK(anon.post("/api/v1/auth/register", "{").status == 422);
    // A role in the body is ignored: registration never grants more than the default.
    auto sneaky = anon.call("POST", "/api/v1/auth/register",
                            R"({"email":")" + name + R"(-r@example.com","username":")" + name +
                                R"(-r","password":"0123456789","role":"admin"})",
                            from_new_address());
    CHECK(sneaky.status == 202);
    auto sneaky_me = anon.call("GET", "/api/v1/auth/me", {},
                               {{"Authorization", "Bearer " + login(anon, name + "-r", "0123456789")}});
    CHECK(sneaky_me.str("role") == "viewer");
  }

  SECTION("registration is limited per address, whatever the answer would be") {
    auto address = from_new_address();
    int accepted = 0;
    dm::test::Reply refused;
    for (int i = 0; i < 12; ++i) {
      auto attempt = anon.call("POST", "/api/v1/auth/register", user_json(name, "another password"), address);
      if (attempt.status == 202) ++accepted;
      if (attempt.status == 429) refused = std::move(attempt);
    }
    CHECK(accepted == 10);  // REGISTRATION_LIMIT's default, per hour
    REQUIRE(refused.status == 429);
    auto wait = std::stoi(refused.headers.get("Retry-After").value_or("0"));
    CHECK(wait > 0);
    CHECK(wait <= 3600);
    // Another address is not affected.
    CHECK(anon.call("POST", "/api/v1/auth/register", user_json(name, "another password"), from_new_address()).status ==
          202);
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
    Api me(stack(), As::anonymous);
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
  Api anon(stack(), As::anonymous);
  auto doc = anon.get("/api/v1/openapi.json");
  REQUIRE(doc.status == 200);
  const std::string key = stack().secret_key();
  const std::string sub = admin_id();
  auto now = unix_now();
  // The admin's credentials never changed: version 1.
  auto payload = [&](const std::string& extra_typ, std::int64_t exp, const std::string& role = "admin",
                     const std::string& version = R"(,"ver":1)", const std::string& subject = "") {
    return R"({"sub":")" + (subject.empty() ? sub : subject) + R"(","role":")" + role + R"(","typ":")" + extra_typ +
           R"(","jti":"j1","iat":)" + std::to_string(now - 10) + R"(,"exp":)" + std::to_string(exp) + version + "}";
  };
  const std::string hs256 = R"({"alg":"HS256","typ":"JWT"})";
  std::string valid = sign(hs256, payload("access", now + 600), key);
  auto tampered = valid;
  {
    // Same signature, payload changed (role viewer → admin for a viewer's token, here exp).
    auto d1 = valid.find('.');
    auto d2 = valid.find('.', d1 + 1);
    tampered = valid.substr(0, d1) + "." + dm::base64url_encode(payload("access", now + 99999)) + valid.substr(d2);
  }
  std::vector<std::pair<std::string, dm::http::Headers>> forgeries = {
      {"no credentials", {}},
      {"malformed header", {{"Authorization", "Token " + valid}}},
      {"bearer without token", {{"Authorization", "Bearer "}}},
      {"not a JWT", {{"Authorization", "Bearer abc.def"}}},
      {"alg none",
       {{"Authorization", "Bearer " + dm::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                              dm::base64url_encode(payload("access", now + 600)) + "."}}},
      {"alg HS512 with our key",
       {{"Authorization", "Bearer " + sign(R"({"alg":"HS512","typ":"JWT"})", payload("access", now + 600), key)}}},
      {"wrong signature", {{"Authorization", "Bearer " + sign(hs256, payload("access", now + 600), key + "x")}}},
      {"tampered payload", {{"Authorization", "Bearer " + tampered}}},
      {"expired", {{"Authorization", "Bearer " + sign(hs256, payload("access", now - 1), key)}}},
      {"wrong type of token", {{"Authorization", "Bearer " + sign(hs256, payload("refresh", now + 600), key)}}},
      {"unknown subject",
       {{"Authorization",
         "Bearer " + sign(hs256,
                          payload("access", now + 600, "admin", R"(,"ver":1)", "00000000-0000-0000-0000-000000000000"),
                          key)}}},
      // Validly signed, but naming no user: 401, never 503 (the id must not reach SQL).
      {"subject not a UUID",
       {{"Authorization",
         "Bearer " + sign(hs256, payload("access", now + 600, "admin", R"(,"ver":1)", "admin"), key)}}},
      {"subject of a UUID's length, not a UUID",
       {{"Authorization",
         "Bearer " + sign(hs256,
                          payload("access", now + 600, "admin", R"(,"ver":1)", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"),
                          key)}}},
      {"no credential version",
       {{"Authorization", "Bearer " + sign(hs256, payload("access", now + 600, "admin", ""), key)}}},
      {"old credential version",
       {{"Authorization", "Bearer " + sign(hs256, payload("access", now + 600, "admin", R"(,"ver":0)"), key)}}},
      {"credential version as text",
       {{"Authorization", "Bearer " + sign(hs256, payload("access", now + 600, "admin", R"(,"ver":"1")"), key)}}},
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
      for (std::size_t i = 0; i < forgeries.size(); ++i) {
        const auto& [what, forged] = forgeries[i];
        INFO(method << " " << path << ": " << what);
        // Each forgery from an address of its own: every 401 spends the address's failure
        // budget, and one address would see 429s long before the end of this table.
        auto headers = forged;
        headers.set("X-Forwarded-For", "198.51.100." + std::to_string(i + 1));
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
  Api editor(stack(), As::editor);
  auto made = editor.post("/api/v1/auth/api-keys", R"({"name":"ci"})");
  REQUIRE(made.status == 201);
  auto key = made.str("key");
  REQUIRE(key.rfind("dmk_", 0) == 0);
  CHECK(made.str("role") == "editor");
  CHECK(editor.post("/api/v1/auth/api-keys", R"({"name":"too much","role":"admin"})").status == 403);
  CHECK(editor.post("/api/v1/auth/api-keys", R"({"name":"past","expires_at":"2000-01-01T00:00:00Z"})").status == 422);
  CHECK(editor.post("/api/v1/auth/api-keys", R"({"name":""})").status == 422);

  Api by_key(stack(), As::anonymous);
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
  Api viewer(stack(), As::viewer);
  CHECK(viewer.get("/api/v1/auth/api-keys").body.find(made.str("id")) == std::string::npos);
  CHECK(viewer.del("/api/v1/auth/api-keys/" + made.str("id")).status == 404);
  Api admin(stack());
  CHECK(admin.get("/api/v1/auth/api-keys").body.find(made.str("id")) != std::string::npos);

  // A key with an expiry stops working at that moment (to the second: room either side).
  const auto expires = dm::now() + std::chrono::seconds(5);
  auto brief =
      editor.post("/api/v1/auth/api-keys", R"({"name":"brief","expires_at":")" + dm::format_rfc3339(expires) + R"("})");
  REQUIRE(brief.status == 201);
  CHECK(by_key.call("GET", "/api/v1/devices", {}, {{"X-API-Key", brief.str("key")}}).status == 200);
  std::this_thread::sleep_for(expires - dm::now() + std::chrono::milliseconds(1500));
  CHECK(by_key.call("GET", "/api/v1/devices", {}, {{"X-API-Key", brief.str("key")}}).status == 401);

  CHECK(editor.del("/api/v1/auth/api-keys/" + made.str("id")).status == 204);
  CHECK(with_key("GET", "/api/v1/devices").status == 401);
  CHECK(editor.del("/api/v1/auth/api-keys/not-a-uuid").status == 404);
}

TEST_CASE("the database holds no plaintext password or API key") {
  Api anon(stack(), As::anonymous);
  auto name = dm::test::unique("secretive");
  const std::string password = "plaintext-password-4711";
  auto id = register_user(anon, name, password);
  Api admin(stack());
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
  CHECK(dump.output.find(dm::sha256_hex(key.str("key"))) != std::string::npos);
}

TEST_CASE("deactivation, reactivation and role changes take effect on the next request") {
  Api anon(stack(), As::anonymous);
  auto name = dm::test::unique("leaver");
  auto id = register_user(anon, name, "leaver-password-1");
  Api user(stack(), As::anonymous);
  user.set_authorization("Bearer " + login(anon, name, "leaver-password-1"));
  auto key = user.post("/api/v1/auth/api-keys", R"({"name":"mine"})");
  REQUIRE(key.status == 201);
  auto with_key = [&] { return anon.call("GET", "/api/v1/devices", {}, {{"X-API-Key", key.str("key")}}); };
  REQUIRE(user.get("/api/v1/auth/me").status == 200);
  REQUIRE(with_key().status == 200);

  Api admin(stack());
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
  // Reactivation does not revive tokens issued before the deactivation: a new login is needed.
  // API keys are credentials their owner manages (and an admin can revoke): they work again.
  CHECK(user.get("/api/v1/auth/me").status == 401);
  CHECK(with_key().status == 200);
  user.set_authorization("Bearer " + login(anon, name, "leaver-password-1"));
  CHECK(user.get("/api/v1/auth/me").status == 200);
  // A role change is no credential change: the token stays good, with the new role.
  REQUIRE(admin.patch("/api/v1/users/" + id, R"({"role":"viewer"})").status == 200);
  CHECK(user.get("/api/v1/auth/me").status == 200);
  CHECK(user.post("/api/v1/labels", R"({"name":")" + dm::test::unique("demoted") + R"("})").status == 403);

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

TEST_CASE("changing one's password ends every earlier token; a wrong current password counts as a failure") {
  Api anon(stack(), As::anonymous);
  auto name = dm::test::unique("changer");
  auto id = register_user(anon, name, "first-password-1");
  auto t1 = login(anon, name, "first-password-1");
  auto t2 = login(anon, name, "first-password-1");  // another session of the same user
  Api user(stack(), As::anonymous);
  user.set_authorization("Bearer " + t1);
  auto key = user.post("/api/v1/auth/api-keys", R"({"name":"changer's key"})");
  REQUIRE(key.status == 201);
  // From addresses of their own, so that the failures below throttle no other test's logins.
  auto change = [&](const std::string& token, const std::string& body, const std::string& address = "10.79.0.1") {
    return anon.call("POST", "/api/v1/auth/password", body,
                     {{"Authorization", "Bearer " + token}, {"X-Forwarded-For", address}});
  };

  CHECK(anon.post("/api/v1/auth/password", R"({"current_password":"x","new_password":"y-long-enough"})").status == 401);
  auto weak = change(t1, R"({"current_password":"first-password-1","new_password":"short"})");
  CHECK(weak.status == 422);
  CHECK(weak.has_error_for("new_password"));
  CHECK(change(t1, R"({"current_password":"first-password-1","new_password":"first-password-1"})").status == 422);
  CHECK(change(t1, R"({"current_password":"first-password-1"})").status == 422);
  CHECK(change(t1, R"({"current_password":"a","new_password":"b-long-enough","extra":1})").status == 422);
  auto wrong = change(t1, R"({"current_password":"not-my-password","new_password":"second-password-2"})");
  CHECK(wrong.status == 403);
  CHECK(wrong.str("detail") == "The current password is incorrect");

  auto changed = change(t1, R"({"current_password":"first-password-1","new_password":"second-password-2"})");
  REQUIRE(changed.status == 200);
  CHECK(changed.str("token_type") == "bearer");
  auto t3 = changed.str("access_token");
  // Every token issued before the change is refused at once; the fresh one works.
  for (const auto& old : {t1, t2}) {
    CHECK(anon.call("GET", "/api/v1/auth/me", {}, {{"Authorization", "Bearer " + old}}).status == 401);
  }
  CHECK(id_of(anon, t3) == id);
  CHECK(anon.post("/api/v1/auth/login", R"({"username":")" + name + R"(","password":"first-password-1"})").status ==
        401);
  CHECK(login(anon, name, "second-password-2").size() > 20);
  // API keys are not tokens: they stay valid (their owner revokes them separately).
  CHECK(anon.call("GET", "/api/v1/auth/me", {}, {{"X-API-Key", key.str("key")}}).status == 200);

  // Guessing the current password with a stolen token is throttled like logins (10 per account,
  // here all from one fresh address).
  int refused = 0;
  for (int i = 0; i < 12; ++i) {
    auto r =
        change(t3, R"({"current_password":"guess-)" + std::to_string(i) + R"(","new_password":"third-password-3"})",
               "10.79.0.2");
    if (r.status == 429) {
      ++refused;
      CHECK(std::stoi(r.headers.get("Retry-After").value_or("0")) > 0);
    } else {
      CHECK(r.status == 403);
    }
  }
  CHECK(refused == 2);
  // The account is throttled for logins too, even with the right password.
  CHECK(anon.call("POST", "/api/v1/auth/login", "username=" + name + "&password=second-password-2",
                  {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Forwarded-For", "10.78.0.1"}})
            .status == 429);
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
