#pragma once
// One real stack per test executable (NATS, PostgreSQL, registry, gateway), started on
// first use, and a small client that talks to the gateway over HTTP like any user would.
// Every Api call is authenticated: as an admin by default (created with tools/admin's
// dm-admin, then logged in), or as an editor, a viewer (registered, logged in, promoted by the
// admin) or nobody. Logging in hashes a password (~0.2 s), so each identity logs in
// once per executable and its token is reused.
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "dm/http/client.hpp"
#include "dm/json/json.hpp"
#include "dm/testing/api.hpp"
#include "dm/testing/stack.hpp"

namespace dm::test {

// A test file may define DM_API_STACK_ENV (settings added to every service's environment)
// before including this.
#ifndef DM_API_STACK_ENV
#define DM_API_STACK_ENV
#endif

inline testing::Stack& stack() {
  static testing::Stack s({"registry", "gateway"}, {DM_API_STACK_ENV});
  return s;
}

struct Reply : testing::ApiReply {
  // The FastAPI 422 detail list has an entry whose loc ends with `field`.
  bool has_error_for(const std::string& field) const {
    const auto* d = json::find(json, "detail");
    if (!d || !d->IsArray()) return false;
    for (const auto& e : d->GetArray()) {
      const auto* loc = json::find(e, "loc");
      if (!loc || !loc->IsArray() || loc->Empty()) continue;
      const auto& last = (*loc)[loc->Size() - 1];
      if ((last.IsString() && json::view(last) == field) || (last.IsInt() && std::to_string(last.GetInt()) == field))
        return true;
    }
    return false;
  }
};

// Who an Api calls as.
enum class As { admin, editor, viewer, anonymous };

inline const char* role_of(As who) {
  switch (who) {
    case As::admin:
      return "admin";
    case As::editor:
      return "editor";
    case As::viewer:
      return "viewer";
    case As::anonymous:
      return "";
  }
  return "";
}

namespace detail {
inline std::string login(http::Client& client, const std::string& username, const std::string& password) {
  auto token = testing::login(client, username, password);
  if (!token) throw std::runtime_error(token.error().message);
  return *token;
}
}  // namespace detail

// A bearer token for `who` on the gateway of `s` (empty for As::anonymous). Users are made
// on first use: the admin with dm-admin, the others registered and given their role by it.
inline std::string token_for(testing::Stack& s, As who) {
  static std::mutex mutex;
  static std::map<std::pair<testing::Stack*, As>, std::string> tokens;
  if (who == As::anonymous) return {};
  std::lock_guard lock(mutex);
  auto c = http::Client::create(s.url("gateway"));
  if (!c.ok()) throw std::runtime_error("no client: " + c.error().message);
  auto& client = **c;
  auto& admin = tokens[{&s, As::admin}];
  if (admin.empty()) {
    auto made = testing::admin_token(s);
    if (!made) throw std::runtime_error(made.error().message);
    admin = *made;
  }
  auto& token = tokens[{&s, who}];
  if (!token.empty()) return token;
  std::string name = std::string("test-") + role_of(who);
  std::string password = name + "-password-0123";
  // Registration answers 202 whether or not the account was made (it tells nobody which
  // exist): the new user's id comes from logging in as them.
  auto reg = client.request(
      "POST", "/api/v1/auth/register",
      "{\"email\":\"" + name + "@example.com\",\"username\":\"" + name + "\",\"password\":\"" + password + "\"}",
      {{"Content-Type", "application/json"}});
  if (!reg.ok() || reg->status != 202)
    throw std::runtime_error("register failed: " + (reg.ok() ? reg->body : reg.error().message));
  token = detail::login(client, name, password);
  auto me = client.request("GET", "/api/v1/auth/me", "", {{"Authorization", "Bearer " + token}});
  auto doc = me.ok() ? json::parse(me->body) : json::parse("");
  if (!doc || !json::find(*doc, "id")) throw std::runtime_error("no /auth/me for " + name);
  std::string id(json::view((*doc)["id"]));
  // The role is read from the user on every request: the token stays good.
  auto patch = client.request("PATCH", "/api/v1/users/" + id, std::string("{\"role\":\"") + role_of(who) + "\"}",
                              {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + admin}});
  if (!patch.ok() || patch->status != 200)
    throw std::runtime_error("role change failed: " + (patch.ok() ? patch->body : patch.error().message));
  return token;
}

class Api {
 public:
  explicit Api(As who = As::admin) : Api(stack(), who) {}
  Api(testing::Stack& s, As who = As::admin) {
    auto c = http::Client::create(s.url("gateway"));
    REQUIRE(c.ok());
    client_ = std::move(c).value();
    if (who != As::anonymous) auth_ = "Bearer " + token_for(s, who);
  }
  // Replaces the credentials sent by default (e.g. "Bearer <token>"; empty sends none).
  void set_authorization(std::string value) { auth_ = std::move(value); }
  Reply call(const std::string& method, const std::string& target, const std::string& body = {},
             http::Headers headers = {}) {
    if (!body.empty() && !headers.contains("Content-Type")) headers.set("Content-Type", "application/json");
    // Explicit credentials in `headers` win over the default ones.
    if (!auth_.empty() && !headers.contains("Authorization") && !headers.contains("X-API-Key")) {
      headers.set("Authorization", auth_);
    }
    auto r = client_->request(method, target, body, headers);
    INFO(method << " " << target);
    REQUIRE(r.ok());
    Reply out;
    static_cast<testing::ApiReply&>(out) = testing::api_reply(*r);
    return out;
  }
  Reply get(const std::string& t) { return call("GET", t); }
  Reply post(const std::string& t, const std::string& b) { return call("POST", t, b); }
  Reply put(const std::string& t, const std::string& b) { return call("PUT", t, b); }
  Reply patch(const std::string& t, const std::string& b) { return call("PATCH", t, b); }
  Reply del(const std::string& t) { return call("DELETE", t); }

 private:
  std::unique_ptr<http::Client> client_;
  std::string auth_;
};

// Unique names across test cases sharing one database.
inline std::string unique(const std::string& prefix) {
  static int n = 0;
  return prefix + "-" + std::to_string(++n) + "-" + std::to_string(::getpid());
}

// Runs SQL as superuser on the stack's database (tests look behind the API).
inline std::string sql(const std::string& query) {
  auto r = stack().pg().psql("device_manager", query);
  INFO(query << "\n" << r.output);
  REQUIRE(r.exit_code == 0);
  return r.output;
}

// The X-Total-Count of a list answer.
inline std::int64_t total(const Reply& r) {
  auto v = r.headers.get("X-Total-Count");
  REQUIRE(v);
  return std::stoll(*v);
}

}  // namespace dm::test
