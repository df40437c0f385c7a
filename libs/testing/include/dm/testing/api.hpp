#pragma once
// What every service's API tests share: an answer with its body parsed when it is JSON, and
// an admin's access token for a test stack's gateway (the admin is created once per stack
// with tools/admin's dm-admin, then logged in). Header-only: test targets link dm::http and
// dm::json already; the library itself stays free of them.
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "dm/core/result.hpp"
#include "dm/http/client.hpp"
#include "dm/json/json.hpp"
#include "dm/testing/stack.hpp"

namespace dm::testing {

struct ApiReply {
  int status = 0;
  std::string body;
  http::Headers headers;
  json::Document json;  // parsed body when it is JSON, else null

  const json::Value& operator[](const char* key) const { return json[key]; }
  // A string field of the JSON body, or "" when absent or not a string.
  std::string str(const char* key) const {
    const auto* v = json::find(json, key);
    return v && v->IsString() ? std::string(json::view(*v)) : std::string();
  }
};

inline ApiReply api_reply(const http::ClientResponse& r) {
  ApiReply out{r.status, r.body, r.headers, {}};
  if (auto doc = json::parse(out.body, {.max_bytes = 64 << 20, .max_depth = 128})) out.json = std::move(doc).value();
  return out;
}

// POST /api/v1/auth/login (form): the access token, or an error naming the answer.
inline Result<std::string> login(http::Client& client, const std::string& username, const std::string& password) {
  auto r = client.request("POST", "/api/v1/auth/login",
                          "username=" + http::percent_encode(username) + "&password=" + http::percent_encode(password),
                          {{"Content-Type", "application/x-www-form-urlencoded"}});
  if (!r) return r.take_error();
  auto doc = json::parse(r->body);
  if (r->status != 200 || !doc || !json::find(*doc, "access_token"))
    return Error(Errc::unauthorized, "login as " + username + " failed: " + std::to_string(r->status) + " " + r->body);
  return std::string(json::view((*doc)["access_token"]));
}

inline constexpr const char* kTestAdminUser = "admin";
inline constexpr const char* kTestAdminPassword = "admin-password-0123";

// The token of the stack's first admin (made on first use); an error when the stack has no
// gateway or dm-admin failed.
inline Result<std::string> admin_token(Stack& stack) {
  static std::mutex mutex;
  static std::map<Stack*, std::string> tokens;
  std::lock_guard lock(mutex);
  if (auto it = tokens.find(&stack); it != tokens.end()) return it->second;
  auto made =
      stack.admin_tool(std::string("create-admin admin@example.com ") + kTestAdminUser + " " + kTestAdminPassword);
  if (made.exit_code != 0) return Error(Errc::internal, "dm-admin failed: " + made.output);
  auto client = http::Client::create(stack.url("gateway"));
  if (!client) return client.take_error();
  auto token = login(**client, kTestAdminUser, kTestAdminPassword);
  if (!token) return token.take_error();
  tokens[&stack] = *token;
  return *token;
}

// An unlabelled metric's value from a service's /metrics (0 when absent or unreachable).
inline double metric_value(const Stack& stack, const std::string& service, const std::string& name) {
  auto r = http::fetch("GET", stack.url(service) + "/metrics");
  if (!r.ok()) return 0;
  auto pos = r->body.find("\n" + name + " ");
  if (pos == std::string::npos) return 0;
  return std::atof(r->body.c_str() + pos + name.size() + 2);
}

}  // namespace dm::testing
