#include "openapi.hpp"

#include <map>
#include <set>

#include "dm/core/strings.hpp"
#include "dm/json/json.hpp"
#include "routes.hpp"

extern const char* const kOpenApiComponents;  // openapi/components.json, embedded

namespace dm::gateway {
namespace {

std::vector<std::string> path_params(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = path.find('{', pos)) != std::string::npos) {
    auto end = path.find('}', pos);
    out.push_back(path.substr(pos + 1, end - pos - 1));
    pos = end;
  }
  return out;
}

std::string operation_id(const RouteSpec& r) {
  std::string id = lower(r.method);
  for (char c : std::string(r.path).substr(7)) {  // after "/api/v1"
    id += (c == '/' || c == '{' || c == '}' || c == '-') ? '_' : c;
  }
  while (id.find("__") != std::string::npos) id.erase(id.find("__"), 1);
  if (id.back() == '_') id.pop_back();
  return id;
}

void schema_ref(json::Writer& w, const char* name) {
  std::string n = name;
  bool list = n.size() > 2 && n.substr(n.size() - 2) == "[]";
  if (list) {
    n = n.substr(0, n.size() - 2);
    w.start_object().field("type", "array").key("items");
  }
  w.start_object().field("$ref", "#/components/schemas/" + n).end_object();
  if (list) w.end_object();
}

void json_content(json::Writer& w, const char* schema, const char* content_type = "application/json") {
  w.key("content").start_object().key(content_type).start_object().key("schema");
  schema_ref(w, schema);
  w.end_object().end_object();
}

void response(json::Writer& w, int status, const char* description, const char* schema,
              const char* content_type = nullptr) {
  w.key(std::to_string(status)).start_object().field("description", description);
  if (schema) json_content(w, schema, content_type ? content_type : "application/json");
  w.end_object();
}

void parameters(json::Writer& w, const RouteSpec& r, const std::vector<std::string>& params) {
  if (params.empty() && r.query.empty()) return;
  w.key("parameters").start_array();
  for (const auto& p : params) {
    w.start_object().field("name", p).field("in", "path").field("required", true);
    w.key("schema").start_object().field("type", "string").end_object().end_object();
  }
  for (const auto& q : r.query) {
    w.start_object()
        .field("name", q.name)
        .field("in", "query")
        .field("required", false)
        .field("description", q.description);
    w.key("schema").start_object().field("type", q.type).end_object().end_object();
  }
  w.end_array();
}

void request_body(json::Writer& w, const RouteSpec& r) {
  if (!r.request_schema) return;
  w.key("requestBody").start_object().field("required", true);
  if (std::string_view(r.request_schema) == "LoginRequest") {
    // OAuth2's password form (what FastAPI clients and Swagger UI's Authorize send), or JSON.
    w.key("content").start_object();
    for (const char* type : {"application/x-www-form-urlencoded", "application/json"}) {
      w.key(type).start_object().key("schema");
      schema_ref(w, r.request_schema);
      w.end_object();
    }
    w.end_object();
  } else {
    json_content(w, r.request_schema);
  }
  w.end_object();
}

// Success, then every failure the route can answer: by its access, path parameters, method,
// body and query.
void responses(json::Writer& w, const RouteSpec& r, bool has_path_params) {
  w.key("responses").start_object();
  response(w, r.success_status, r.success_status == 204 ? "No Content" : "Success", r.response_schema,
           r.response_content_type);
  if (r.access != Access::public_) {
    response(w, 401, "Not authenticated", "Error");
    response(w, 403, "Not allowed for this role", "Error");
  }
  if (r.access != Access::public_ || std::string_view(r.service) == "gateway") {
    response(w, 429, "Too many failed authentications (or registrations) from this address; see Retry-After", "Error");
  }
  if (has_path_params) response(w, 404, "Not found", "Error");
  if (std::string(r.method) != "GET" && std::string(r.method) != "DELETE") response(w, 409, "Conflict", "Error");
  if (r.request_schema || !r.query.empty()) response(w, 422, "Validation error", "HTTPValidationError");
  if (r.request_schema) response(w, 413, "Request body too large", "Error");
  response(w, 503, "The owning service is unavailable", "Error");
  w.end_object();
}

void operation(json::Writer& w, const RouteSpec& r) {
  std::string method = lower(r.method);
  w.key(method).start_object();
  w.field("operationId", operation_id(r)).field("summary", r.summary);
  w.field("description", std::string(r.summary) + ". Required role: " + access_name(r.access) + ".");
  w.key("tags").start_array().string(r.tag).end_array();
  w.field("x-required-role", access_name(r.access));
  if (r.access == Access::public_) {
    w.key("security").start_array().end_array();
  }
  auto params = path_params(r.path);
  parameters(w, r, params);
  request_body(w, r);
  responses(w, r, !params.empty());
  w.end_object();
}

// The document's head: what it describes, where, and that every operation needs one of the
// three schemes unless it says otherwise.
void head(json::Writer& w, const std::string& server_url) {
  w.field("openapi", "3.0.3");
  w.key("info")
      .start_object()
      .field("title", "Device Manager API")
      .field("version", "1.0.0")
      .field("description",
             "REST API of Device Manager: devices, labels, functions, integrations, flows, storages and their "
             "history. Errors follow FastAPI: {\"detail\": \"...\"}, and 422 with a list of problems. Lists take "
             "skip and limit (default 100, at most 1000) and answer the total in X-Total-Count.")
      .end_object();
  w.key("servers").start_array().start_object().field("url", server_url).end_object().end_array();
  w.key("security")
      .start_array()
      .start_object()
      .key("bearerAuth")
      .start_array()
      .end_array()
      .end_object()
      .start_object()
      .key("apiKeyAuth")
      .start_array()
      .end_array()
      .end_object()
      .start_object()
      .key("oauth2Password")
      .start_array()
      .end_array()
      .end_object()
      .end_array();
}

// Every route of the table, grouped by path in the table's order.
void paths(json::Writer& w) {
  std::map<std::string, std::vector<const RouteSpec*>> by_path;
  std::vector<std::string> order;
  for (const auto& r : route_table()) {
    if (!by_path.count(r.path)) order.emplace_back(r.path);
    by_path[r.path].push_back(&r);
  }
  w.key("paths").start_object();
  for (const auto& path : order) {
    w.key(path).start_object();
    for (const auto* r : by_path[path]) operation(w, *r);
    w.end_object();
  }
  w.end_object();
}

void security_schemes(json::Writer& w) {
  w.key("securitySchemes")
      .start_object()
      .key("bearerAuth")
      .start_object()
      .field("type", "http")
      .field("scheme", "bearer")
      .field("bearerFormat", "JWT")
      .end_object()
      .key("apiKeyAuth")
      .start_object()
      .field("type", "apiKey")
      .field("in", "header")
      .field("name", "X-API-Key")
      .end_object()
      // Lets /docs log in with username and password (Authorize), as FastAPI's OAuth2PasswordBearer.
      .key("oauth2Password")
      .start_object()
      .field("type", "oauth2")
      .key("flows")
      .start_object()
      .key("password")
      .start_object()
      .field("tokenUrl", "/api/v1/auth/login")
      .key("scopes")
      .start_object()
      .end_object()
      .end_object()
      .end_object()
      .end_object()
      .end_object();
}

}  // namespace

std::string build_openapi(const std::string& server_url) {
  auto components = json::parse(kOpenApiComponents, {.max_bytes = 4 << 20, .max_depth = 64});
  json::Writer w;
  w.start_object();
  head(w, server_url);
  paths(w);
  w.key("components").start_object();
  w.key("schemas");
  if (components)
    w.value(*components);
  else
    w.start_object().end_object();
  security_schemes(w);
  w.end_object();
  w.end_object();
  return w.take();
}

}  // namespace dm::gateway
