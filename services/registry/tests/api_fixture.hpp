#pragma once
// One real stack per test executable (NATS, PostgreSQL, registry, gateway), started on
// first use, and a small client that talks to the gateway over HTTP like any user would.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "dm/http/client.hpp"
#include "dm/json/json.hpp"
#include "dm/testing/stack.hpp"

namespace dm::test {

inline testing::Stack& stack() {
  static testing::Stack s({"registry", "gateway"});
  return s;
}

struct Reply {
  int status = 0;
  std::string body;
  http::Headers headers;
  json::Document json;  // parsed body when it is JSON, else null

  const json::Value& operator[](const char* key) const { return json[key]; }
  std::string str(const char* key) const {
    const auto* v = json::find(json, key);
    return v && v->IsString() ? std::string(json::view(*v)) : std::string();
  }
  // The FastAPI 422 detail list has an entry whose loc ends with `field`.
  bool has_error_for(const std::string& field) const {
    const auto* d = json::find(json, "detail");
    if (!d || !d->IsArray()) return false;
    for (const auto& e : d->GetArray()) {
      const auto* loc = json::find(e, "loc");
      if (!loc || !loc->IsArray() || loc->Empty()) continue;
      const auto& last = (*loc)[loc->Size() - 1];
      if ((last.IsString() && json::view(last) == field) || (last.IsInt() && std::to_string(last.GetInt()) == field)) return true;
    }
    return false;
  }
};

class Api {
 public:
  Api() {
    auto c = http::Client::create(stack().url("gateway"));
    REQUIRE(c.ok());
    client_ = std::move(c).value();
  }
  Reply call(const std::string& method, const std::string& target, const std::string& body = {},
             http::Headers headers = {}) {
    if (!body.empty() && !headers.contains("Content-Type")) headers.set("Content-Type", "application/json");
    auto r = client_->request(method, target, body, headers);
    INFO(method << " " << target);
    REQUIRE(r.ok());
    Reply out;
    out.status = r->status;
    out.body = r->body;
    out.headers = r->headers;
    auto doc = json::parse(out.body, {.max_bytes = 64 << 20, .max_depth = 128});
    if (doc) out.json = std::move(doc).value();
    return out;
  }
  Reply get(const std::string& t) { return call("GET", t); }
  Reply post(const std::string& t, const std::string& b) { return call("POST", t, b); }
  Reply put(const std::string& t, const std::string& b) { return call("PUT", t, b); }
  Reply patch(const std::string& t, const std::string& b) { return call("PATCH", t, b); }
  Reply del(const std::string& t) { return call("DELETE", t); }

 private:
  std::unique_ptr<http::Client> client_;
};

// Unique names across test cases sharing one database.
inline std::string unique(const std::string& prefix) {
  static int n = 0;
  return prefix + "-" + std::to_string(++n) + "-" + std::to_string(::getpid());
}

}  // namespace dm::test
