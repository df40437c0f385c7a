// /api/v1/functions: CRUD of user JavaScript functions and their declared parameters.
// Running them (and checking their syntax) is the function-runner's job.
#include <algorithm>
#include <cstdlib>
#include <set>

#include "common.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "dm/core/time.hpp"

namespace dm::registry {
namespace {

std::optional<http::Response> check_code(const std::string& code);  // asks the function-runner

constexpr std::size_t kMaxCodeBytes = 256 * 1024;
constexpr std::size_t kMaxParameters = 100;
const std::vector<std::string> kStatuses = {"inactive", "success", "error"};
const std::vector<std::string> kParamTypes = {"string", "number", "integer", "boolean", "object", "array"};
// Fields a client may send back unchanged from a GET; they are ignored, not rejected.
const std::vector<std::string> kKnown = {"name",    "description", "code",        "parameters", "id",
                                         "version", "status",      "last_run_at", "created_at", "updated_at"};
const std::vector<std::string> kParamKeys = {"name", "type", "description", "required", "default"};

struct FunctionInput {
  ColumnValues values;              // column → text value (cast in SQL)
  std::optional<std::string> code;  // apart: it drives the version
  std::string name;
};

bool matches_type(const json::Value& v, std::string_view type) {
  if (v.IsNull()) return true;
  if (type == "string") return v.IsString();
  if (type == "number") return v.IsNumber();
  if (type == "integer") return v.IsInt64() || v.IsUint64();
  if (type == "boolean") return v.IsBool();
  if (type == "object") return v.IsObject();
  return v.IsArray();
}

// Checks one {name, type, description, required, default} and writes it normalised.
void read_parameter(const json::Value& item, const std::string& index, std::set<std::string>& names,
                    std::vector<api::FieldError>& errors, json::Writer& out) {
  if (!item.IsObject()) {
    errors.push_back({{"body", "parameters", index}, "Input should be a valid dictionary", "dict_type"});
    return;
  }
  api::BodyReader p(item, {"body", "parameters", index});
  p.forbid_unknown(kParamKeys);
  auto name = p.string("name", {.required = true, .min = 1, .max = 100});
  if (name && !names.insert(*name).second)
    p.add_error("name", "Parameter names must be unique: '" + *name + "' repeats");
  std::string type = "string";
  if (p.present("type")) {
    auto t = p.choice("type", kParamTypes);
    if (t) type = *t;
  }
  auto description = p.string("description", {.max = 2000, .nullable = true});
  auto required = p.boolean("required");
  const json::Value* def = p.raw("default");
  if (def && !matches_type(*def, type)) {
    p.add_error("default", "default should be of the parameter's type (" + type + ")", "value_error");
  }
  errors.insert(errors.end(), p.errors().begin(), p.errors().end());
  if (!p.ok()) return;
  out.start_object().field("name", *name).field("type", type).field_or_null("description", description);
  out.field("required", required.value_or(false)).key("default");
  if (def)
    out.value(*def);
  else
    out.null();
  out.end_object();
}

// The parameters list normalised to JSON, or nullopt after recording errors.
std::optional<std::string> read_parameters(const json::Value& list, std::vector<api::FieldError>& errors) {
  if (!list.IsArray()) {
    errors.push_back({{"body", "parameters"}, "Input should be a valid list", "list_type"});
    return std::nullopt;
  }
  if (list.Size() > kMaxParameters) {
    errors.push_back({{"body", "parameters"}, "List should have at most 100 items", "too_long"});
    return std::nullopt;
  }
  std::size_t before = errors.size();
  std::set<std::string> names;
  json::Writer out;
  out.start_array();
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) read_parameter(list[i], std::to_string(i), names, errors, out);
  out.end_array();
  if (errors.size() != before) return std::nullopt;
  return out.take();
}

// Reads a create (name and code required) or an update (all optional) body.
std::optional<http::Response> read_function(const json::Value& body, bool create, FunctionInput& in) {
  api::BodyReader r(body);
  r.forbid_unknown(kKnown);
  read_name_and_description(r, create, 255, in.values, in.name);
  if (auto v = r.string("code", {.required = create, .min = 1})) {
    // Bytes, not characters: the limit protects storage and the runner's compiler.
    if (v->size() > kMaxCodeBytes)
      r.add_error("code", "Code should be at most 262144 bytes (256 KiB)", "string_too_long");
    else
      in.code = std::move(*v);
  }
  std::vector<api::FieldError> nested;
  if (const auto* params = r.raw("parameters")) {
    if (auto normalised = read_parameters(*params, nested)) in.values.columns.emplace_back("parameters", *normalised);
  }
  if (r.ok() && nested.empty()) return std::nullopt;
  auto errors = r.errors();
  errors.insert(errors.end(), nested.begin(), nested.end());
  return api::validation_error(errors);
}

std::string conflict(const FunctionInput& in) { return "A function named '" + in.name + "' already exists"; }

std::string cast_of(const std::string& column) { return column == "parameters" ? "::jsonb" : ""; }

http::Response list_functions(Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto page = q.paging();
  auto sort = q.sort({"name", "status", "version", "created_at", "updated_at", "last_run_at"}, {"name", false});
  auto status = q.choice("status", kStatuses);
  auto text = q.string("search");
  if (!q.ok()) return q.response();
  db::Params params{status, text ? db::Param("%" + *text + "%") : std::nullopt};
  const std::string where =
      " WHERE ($1::text IS NULL OR v.status = $1)"
      " AND ($2::text IS NULL OR v.name ILIKE $2 OR v.description ILIKE $2)";
  return list_page(ctx, "function_docs", where, std::move(params), sort, page);
}

const Resource& function_resource() {
  // `revision` counts every change; `version` only code changes (what the runner caches by).
  static const Resource r{"functions",          "function_docs", "function", "Function",
                          "/api/v1/functions/", cast_of,         "revision"};
  return r;
}

http::Response create_function(Context& ctx, const http::Request& req) {
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  FunctionInput in;
  if (auto bad = read_function(body.doc, true, in)) return *bad;
  if (auto bad = check_code(*in.code)) return *bad;
  in.values.columns.emplace_back("code", *in.code);
  return create_row(ctx, function_resource(), in.values, conflict(in));
}

http::Response get_function(Context& ctx, const http::Request& req) {
  return get_doc(ctx, "function_docs", req.params.at("id"), "Function");
}

http::Response update_function(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found("Function");
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  FunctionInput in;
  if (auto bad = read_function(body.doc, false, in)) return *bad;
  if (in.code) {
    if (auto bad = check_code(*in.code)) return *bad;
  }
  db::Params params{id};
  std::string sets = in.values.set_sql(params, cast_of);
  if (in.code) {
    // Both right-hand sides see the old row: the version moves only if the text differs.
    params.push_back(*in.code);
    auto n = std::to_string(params.size());
    sets += ", version = version + (code IS DISTINCT FROM $" + n + ")::int, code = $" + n;
  }
  return update_row(ctx, function_resource(), id, sets, params, conflict(in));
}

http::Response delete_function(Context& ctx, const http::Request& req) {
  return delete_row(ctx, function_resource(), req.params.at("id"));
}

// --- Added for the function-runner (issue 6): syntax check on save, status from runs. ---

// The compile check uses the service's request/reply connection (wiring().rpc); a
// connection of its own, opened on first use, serves when none was wired (tools, tests). The runner answers
// POST /internal/v1/compile on dm.rpc.function-runner.
bus::Connection* runner_link() {
  if (wiring().rpc) return wiring().rpc;
  static std::shared_ptr<bus::Connection> conn = [] {
    // The same keys the Runtime reads (scoped first), from the environment.
    auto env = [](const char* scoped, const char* plain) {
      const char* v = std::getenv(scoped);
      if (!v || !*v) v = std::getenv(plain);
      return std::string(v ? v : "");
    };
    bus::Options o;
    if (auto url = env("REGISTRY_NATS_URL", "NATS_URL"); !url.empty()) o.url = url;
    o.user = env("REGISTRY_NATS_USER", "NATS_USER");
    o.password = env("REGISTRY_NATS_PASSWORD", "NATS_PASSWORD");
    o.name = "registry-compile-check";
    o.send_asap = true;
    auto c = bus::Connection::connect(o);
    return c ? std::move(c).value() : std::shared_ptr<bus::Connection>();
  }();
  return conn.get();
}

// A 422 (with line and column, as the runner reports them) when the code does not compile;
// nullopt when it does, or when no runner answers (the code is then saved unchecked).
std::optional<http::Response> check_code(const std::string& code) {
  auto* link = runner_link();
  if (!link) {
    log::warn("function code saved unchecked: no NATS connection for the compile check");
    return std::nullopt;
  }
  json::Writer w;
  w.start_object().field("code", code).end_object();
  auto reply = link->request(
      contract::subject::rpc(contract::kRunner, contract::kRegistry), w.view(), std::chrono::seconds(3),
      {{"Dm-Method", "POST"}, {"Dm-Target", "/internal/v1/compile"}, {"Content-Type", "application/json"}});
  if (!reply) {
    log::warn("function code saved unchecked: function-runner did not answer", {{"error", reply.error().message}});
    return std::nullopt;
  }
  auto status = reply->header("Dm-Status").value_or("200");
  if (status == "422") return http::Response::json(422, reply->data);
  if (status != "200") log::warn("function code saved unchecked: compile check failed", {{"status", status}});
  return std::nullopt;
}

// POST /internal/v1/functions/status: [{id, status, last_run_at}] from the runner, so a
// function's status follows its last run. Older reports never overwrite newer ones; no
// change event (status is not part of the definition caches hold).
http::Response update_statuses(Context& ctx, const http::Request& req) {
  auto doc = json::parse(req.body, {.max_bytes = 4u << 20});
  if (!doc || !doc->IsArray()) return api::validation_error({"body"}, "Input should be a valid list", "list_type");
  std::string ids = "{", statuses = "{", ats = "{";
  std::vector<api::FieldError> errors;
  rapidjson::SizeType i = 0;
  for (const auto& item : doc->GetArray()) {
    const std::string index = std::to_string(i++);
    auto id =
        item.IsObject() ? json::get_string(item, "id") : Result<std::string_view>(Error(Errc::invalid_argument, ""));
    auto status = item.IsObject() ? json::get_string(item, "status")
                                  : Result<std::string_view>(Error(Errc::invalid_argument, ""));
    auto at = item.IsObject() ? json::get_string(item, "last_run_at")
                              : Result<std::string_view>(Error(Errc::invalid_argument, ""));
    auto when = at ? parse_rfc3339(*at) : Result<SysTime>(Error(Errc::invalid_argument, ""));
    if (id && !api::is_uuid(*id)) continue;  // names no function here: nothing to update
    if (!id || !status || (*status != "success" && *status != "error") || !when) {
      errors.push_back(
          {{"body", index}, "Expected {id: uuid, status: success|error, last_run_at: RFC 3339}", "value_error"});
      continue;
    }
    const char* sep = ids.size() > 1 ? "," : "";
    ids += sep + std::string("\"") + std::string(*id) + "\"";
    statuses += sep + std::string("\"") + std::string(*status) + "\"";
    ats += sep + std::string("\"") + format_rfc3339(*when) + "\"";
  }
  if (!errors.empty()) return api::validation_error(errors);
  auto rows = ctx.db.exec(
      "UPDATE functions f SET status = u.status, last_run_at = u.at"
      " FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(id, status, at)"
      " WHERE f.id = u.id AND (f.last_run_at IS NULL OR f.last_run_at <= u.at)",
      {ids + "}", statuses + "}", ats + "}"});
  if (!rows) return store_error(rows.error());
  // Not a definition change (no event), but cached reads show the status.
  if (rows->affected() > 0) ctx.events.invalidate_reads();
  return http::Response::json(200, "{\"updated\":" + std::to_string(rows->affected()) + "}");
}

}  // namespace

void add_function_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/functions", [&ctx](const http::Request& req) { return list_functions(ctx, req); });
  router.add_sync("POST", "/api/v1/functions", [&ctx](const http::Request& req) { return create_function(ctx, req); });
  router.add_sync("GET", "/api/v1/functions/{id}", [&ctx](const http::Request& req) { return get_function(ctx, req); });
  // The same for the runner's code cache (a route of its own, so that the runner may read
  // functions and nothing else).
  router.add_sync("GET", "/internal/v1/functions/{id}",
                  [&ctx](const http::Request& req) { return get_function(ctx, req); });
  auto update = [&ctx](const http::Request& req) { return update_function(ctx, req); };
  router.add_sync("PUT", "/api/v1/functions/{id}", update);
  router.add_sync("PATCH", "/api/v1/functions/{id}", update);
  router.add_sync("DELETE", "/api/v1/functions/{id}",
                  [&ctx](const http::Request& req) { return delete_function(ctx, req); });
  router.add_sync("POST", "/internal/v1/functions/status",
                  [&ctx](const http::Request& req) { return update_statuses(ctx, req); });
}

}  // namespace dm::registry
