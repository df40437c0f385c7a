// /api/v1/functions: CRUD of user JavaScript functions and their declared parameters.
// Running them (and checking their syntax) is the function-runner's job.
#include <set>

#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/strings.hpp"
#include "dm/core/time.hpp"
#include "resource.hpp"
#include "routes.hpp"

namespace dm::registry {
namespace {

constexpr std::size_t kMaxCodeBytes = std::size_t{256} * 1024;
constexpr std::size_t kMaxParameters = 100;
const std::vector<std::string> kParamTypes = {"string", "number", "integer", "boolean", "object", "array"};
// Fields a client may send back unchanged from a GET; they are ignored, not rejected.
const std::vector<std::string> kKnown = {"name",    "description", "code",        "parameters", "id",
                                         "version", "status",      "last_run_at", "created_at", "updated_at"};
const std::vector<std::string> kParamKeys = {"name", "type", "description", "required", "default"};

struct FunctionInput {
  store::Columns columns;
  std::optional<std::string> code;  // apart: checked by the runner, and it drives the version
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
    errors.push_back(
        {.loc = {"body", "parameters", index}, .msg = "Input should be a valid dictionary", .type = "dict_type"});
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
    errors.push_back({.loc = {"body", "parameters"}, .msg = "Input should be a valid list", .type = "list_type"});
    return std::nullopt;
  }
  if (list.Size() > kMaxParameters) {
    errors.push_back({.loc = {"body", "parameters"}, .msg = "List should have at most 100 items", .type = "too_long"});
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
  read_name_and_description(r, create, 255, in.columns, in.name);
  if (auto v = r.string("code", {.required = create, .min = 1})) {
    // Bytes, not characters: the limit protects storage and the runner's compiler.
    if (v->size() > kMaxCodeBytes)
      r.add_error("code", "Code should be at most 262144 bytes (256 KiB)", "string_too_long");
    else
      in.code = std::move(*v);
  }
  std::vector<api::FieldError> nested;
  if (const auto* params = r.raw("parameters")) {
    if (auto normalised = read_parameters(*params, nested)) in.columns.set("parameters", *normalised);
  }
  if (r.ok() && nested.empty()) return std::nullopt;
  auto errors = r.errors();
  errors.insert(errors.end(), nested.begin(), nested.end());
  return api::validation_error(errors);
}

http::Response list_functions(Context& ctx, const http::Request& req) {
  api::QueryReader q(req);
  auto page = q.paging();
  auto sort = q.sort({"name", "status", "version", "created_at", "updated_at", "last_run_at"}, {"name", false});
  store::FunctionFilter filter{.status = parse_choice<FunctionStatus>(q.choice("status", words<FunctionStatus>())),
                               .text = q.string("search")};
  if (!q.ok()) return q.response();
  return list_page(ctx, store::functions_matching(filter), sort, page);
}

// A 422 (with line and column, as the runner reports them) when the code does not compile;
// nullopt when it does, or when no runner answers (the code is then saved unchecked). The
// runner answers POST /internal/v1/compile on dm.rpc.function-runner.
std::optional<http::Response> check_code(Context& ctx, const std::string& code) {
  if (!ctx.runner) {
    log::warn("function code saved unchecked: no NATS connection for the compile check");
    return std::nullopt;
  }
  json::Writer w;
  w.start_object().field("code", code).end_object();
  auto reply = ctx.runner->request(
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

http::Response create_function(Context& ctx, const http::Request& req) {
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  FunctionInput in;
  if (auto bad = read_function(body.doc, true, in)) return *bad;
  if (auto bad = check_code(ctx, *in.code)) return *bad;
  in.columns.set("code", *in.code);
  return create_row(ctx, Kind::function, in.columns, name_conflict(Kind::function, in.name));
}

http::Response update_function(Context& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!is_uuid(id)) return not_found(Kind::function);
  auto body = api::parse_body(req);
  if (body.error) return *body.error;
  FunctionInput in;
  if (auto bad = read_function(body.doc, false, in)) return *bad;
  if (in.code) {
    if (auto bad = check_code(ctx, *in.code)) return *bad;
    in.columns.set("code", *in.code);  // last: the store moves the version only if it differs
  }
  return update_row(ctx, Kind::function, id, in.columns, name_conflict(Kind::function, in.name));
}

// One of the runner's reports: the run; nullopt when it names no function here (an id that
// is not a UUID: nothing to update); an error when it is not {id, status: success|error,
// last_run_at}.
Result<std::optional<store::FunctionRun>> read_run(const json::Value& item) {
  const Error wrong(Errc::invalid_argument, "Expected {id: uuid, status: success|error, last_run_at: RFC 3339}");
  if (!item.IsObject()) return wrong;
  auto id = json::get_string(item, "id");
  if (id && !is_uuid(*id)) return std::optional<store::FunctionRun>{};
  auto status = json::get_string(item, "status");
  auto at = json::get_string(item, "last_run_at");
  auto when = at ? parse_rfc3339(*at) : Result<SysTime>(wrong);
  auto run_status = status ? parse_word<FunctionStatus>(*status) : std::nullopt;
  if (!id || !when || !run_status || *run_status == FunctionStatus::inactive) return wrong;
  return std::optional<store::FunctionRun>(
      store::FunctionRun{.id = std::string(*id), .status = *run_status, .at = format_rfc3339(*when)});
}

// POST /internal/v1/functions/status: [{id, status, last_run_at}] from the runner, so a
// function's status follows its last run. Older reports never overwrite newer ones; no
// change event (status is not part of the definition caches hold).
http::Response update_statuses(Context& ctx, const http::Request& req) {
  auto doc = json::parse(req.body, {.max_bytes = 4u << 20});
  if (!doc || !doc->IsArray()) return api::validation_error({"body"}, "Input should be a valid list", "list_type");
  std::vector<store::FunctionRun> runs;
  std::vector<api::FieldError> errors;
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i) {
    auto run = read_run((*doc)[i]);
    if (!run)
      errors.push_back({.loc = {"body", std::to_string(i)}, .msg = run.error().message, .type = "value_error"});
    else if (*run)
      runs.push_back(std::move(**run));
  }
  if (!errors.empty()) return api::validation_error(errors);
  auto updated = store::record_function_runs(ctx.db, runs);
  if (!updated) return store_error(updated.error());
  // Not a definition change (no event), but cached reads show the status.
  if (*updated > 0) ctx.events.invalidate_reads();
  return http::Response::json(200, "{\"updated\":" + std::to_string(*updated) + "}");
}

}  // namespace

void add_function_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/api/v1/functions", [&ctx](const http::Request& req) { return list_functions(ctx, req); });
  router.add_sync("POST", "/api/v1/functions", [&ctx](const http::Request& req) { return create_function(ctx, req); });
  auto get = [&ctx](const http::Request& req) { return get_doc(ctx, Kind::function, req.params.at("id")); };
  router.add_sync("GET", "/api/v1/functions/{id}", get);
  // The same for the runner's code cache (a route of its own, so that the runner may read
  // functions and nothing else).
  router.add_sync("GET", "/internal/v1/functions/{id}", get);
  auto update = [&ctx](const http::Request& req) { return update_function(ctx, req); };
  router.add_sync("PUT", "/api/v1/functions/{id}", update);
  router.add_sync("PATCH", "/api/v1/functions/{id}", update);
  router.add_sync("DELETE", "/api/v1/functions/{id}",
                  [&ctx](const http::Request& req) { return delete_row(ctx, Kind::function, req.params.at("id")); });
  router.add_sync("POST", "/internal/v1/functions/status",
                  [&ctx](const http::Request& req) { return update_statuses(ctx, req); });
}

}  // namespace dm::registry
