#include "runner.hpp"

#include <atomic>
#include <functional>

#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "dm/core/time.hpp"
#include "dm/json/json.hpp"

namespace dm::function_runner {
namespace {

// One execution of a batch, as read from the request.
struct Exec {
  std::string id, function_id, input, params;
  std::int64_t version = 0;
  int timeout_ms = 100;
  std::optional<std::string> flow_id, flow_run_id, node_id, dev_eui;
  bool replay = false;
  bool found = false;                  // the registry knows the function
  std::optional<std::string> invalid;  // why it cannot run
};

// Shared by the jobs of one request; the last one to finish sends the reply.
struct Batch {
  bus::Message request;
  std::string at;  // when the batch arrived: the runs' recorded time
  std::vector<Exec> execs;
  std::vector<RunResult> results;
  std::atomic<std::size_t> left{0};
};

std::optional<std::string> opt_str(const json::Value& o, const char* key) {
  const auto* v = json::find(o, key);
  return v && v->IsString() ? std::optional<std::string>(std::string(json::view(*v))) : std::nullopt;
}

Exec read_exec(const json::Value& e, const RunnerLimits& limits) {
  Exec x;
  if (!e.IsObject()) {
    x.invalid = "execution must be an object";
    return x;
  }
  x.id = opt_str(e, "id").value_or("");
  x.function_id = opt_str(e, "function_id").value_or("");
  const auto* version = json::find(e, "version");
  const auto* input = json::find(e, "input");
  const auto* params = json::find(e, "parameters");
  const auto* timeout = json::find(e, "timeout_ms");
  if (x.id.empty())
    x.invalid = "id is required";
  else if (!is_token(x.function_id))
    x.invalid = "function_id must be an id";
  else if (!version || !version->IsInt64() || version->GetInt64() < 1)
    x.invalid = "version must be a positive integer";
  else if (!input || !input->IsObject())
    x.invalid = "input must be an object";
  else if (params && !params->IsObject() && !params->IsNull())
    x.invalid = "parameters must be an object";
  if (x.invalid) return x;
  x.version = version->GetInt64();
  x.input = json::to_string(*input);
  x.params = params && params->IsObject() ? json::to_string(*params) : "{}";
  x.timeout_ms = limits.default_timeout_ms;
  if (timeout && timeout->IsInt64())
    x.timeout_ms = static_cast<int>(std::clamp<std::int64_t>(timeout->GetInt64(), 1, limits.max_timeout_ms));
  if (const auto* c = json::find(e, "context"); c && c->IsObject()) {
    x.flow_id = opt_str(*c, "flow_id");
    x.flow_run_id = opt_str(*c, "flow_run_id");
    x.node_id = opt_str(*c, "node_id");
    x.dev_eui = opt_str(*c, "dev_eui");
    const auto* replay = json::find(*c, "replay");
    x.replay = replay && replay->IsBool() && replay->GetBool();
  }
  return x;
}

std::string error_json(const RunResult& r) {
  json::Writer w;
  w.start_object().field("message", r.error_message).key("stack");
  if (r.error_stack.empty())
    w.null();
  else
    w.string(r.error_stack);
  w.end_object();
  return w.take();
}

// Answers dm.fn.exec with every result of the batch, in order. A reply over the server's
// max_payload travels in parts (bus::Connection::respond; the orchestrator's request_async
// takes them), so no output is ever replaced for its size here.
void reply_batch(bus::Connection& conn, Batch& batch) {
  json::Writer w;
  w.start_object().key("results").start_array();
  for (std::size_t k = 0; k < batch.execs.size(); ++k)
    write_result(w, batch.results[k], &batch.execs[k].id, batch.execs[k].version);
  w.end_array().end_object();
  if (auto sent = conn.respond(batch.request, w.take(), {{"Content-Type", "application/json"}}); !sent)
    log::error("dm.fn.exec reply failed", {{"error", sent.error().message}});
}

// The registry's status of each function follows its last run in a flow (not runs that did
// not happen for reasons that are not the function's).
void report_status(StatusReporter* status, const Batch& batch) {
  if (!status) return;
  for (std::size_t i = 0; i < batch.execs.size(); ++i) {
    const Exec& x = batch.execs[i];
    const RunResult& r = batch.results[i];
    if (x.invalid || !x.found || r.is_unavailable()) continue;
    status->record(x.function_id, r.status == "success" || r.status == "filtered", batch.at);
  }
}

// The runner could not run it (shutting down, no worker): nothing about the code; retry.
http::Response unavailable_response(const RunResult& r) {
  auto res = http::Response::error(503, r.error_message);
  res.headers.set("Retry-After", "1");
  return res;
}

http::Response syntax_error(const RunResult& r) {
  json::Writer w;
  w.start_object().key("detail").start_array().start_object();
  w.key("loc").start_array().string("body").string("code").end_array();
  w.field("msg", r.error_message).field("type", "syntax_error");
  w.key("ctx").start_object().field("line", r.line).field("column", r.column).end_object();
  w.end_object().end_array().end_object();
  return http::Response::json(422, w.take());
}

}  // namespace

void write_result(json::Writer& w, const RunResult& r, const std::string* id, std::int64_t version) {
  w.start_object();
  if (id) w.field("id", *id);
  if (version > 0) w.field("version", version);
  w.field("status", r.status).key("output");
  if (r.status == "success" && !r.output.empty())
    w.raw(r.output);
  else
    w.null();
  w.key("logs").raw(r.logs.empty() ? "[]" : r.logs).key("error");
  if (r.has_error)
    w.raw(error_json(r));
  else
    w.null();
  w.field("duration_ms", r.duration_ms).end_object();
}

void Runner::handle_exec(bus::Message&& request) {
  auto doc = json::parse(request.data, {.max_bytes = 256u << 20, .max_depth = 128});
  const json::Value* list = doc && doc->IsObject() ? json::find(*doc, "executions") : nullptr;
  if (!list || !list->IsArray() || list->Empty()) {
    (void)reply_.respond(request, json::detail("body must be {\"executions\": [...]} with at least one execution"),
                         {{"Dm-Status", "400"}, {"Content-Type", "application/json"}});
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->execs.reserve(list->Size());
  std::map<std::string, std::int64_t> wanted;
  for (const auto& e : list->GetArray()) {
    batch->execs.push_back(read_exec(e, limits_));
    const auto& x = batch->execs.back();
    if (!x.invalid) wanted[x.function_id] = std::max(wanted[x.function_id], x.version);
  }
  doc = json::Document();  // free the request DOM before running
  auto codes = cache_.get(wanted);
  batch->results.resize(batch->execs.size());
  batch->left = batch->execs.size();
  batch->request = std::move(request);
  batch->at = format_rfc3339(now());

  auto finish_one = [this, batch](std::size_t i, RunResult r) {
    batch->results[i] = std::move(r);
    if (batch->left.fetch_sub(1) != 1) return;
    // The last run of the batch answers the caller, which records the runs (with the flow
    // runs they belong to, so nothing it acknowledged depends on this process).
    reply_batch(reply_, *batch);
    report_status(status_, *batch);
  };

  for (std::size_t i = 0; i < batch->execs.size(); ++i) {
    auto& x = batch->execs[i];
    if (x.invalid) {
      finish_one(i, RunResult::failure(*x.invalid));
      continue;
    }
    auto& code = codes.at(x.function_id);
    if (!code) {
      // Not found is the caller's problem; a registry that cannot be asked is nobody's.
      finish_one(i, code.error().code == Errc::not_found
                        ? RunResult::failure("function not found")
                        : RunResult::unavailable("function definition unavailable: " + code.error().message));
      continue;
    }
    const CodePtr& fc = *code;
    x.found = true;
    x.version = fc->version;  // what actually runs (the registry may be ahead of the caller)
    Job job;
    job.wire.kind = protocol::JobKind::run;
    job.wire.key = fc->key();
    job.wire.input = x.input;
    job.wire.params = merge_params(fc->defaults, x.params);
    job.wire.timeout_ms = static_cast<std::uint32_t>(x.timeout_ms);
    job.code = fc->code;
    job.function_id = x.function_id;
    job.done = [finish_one, i](RunResult r) { finish_one(i, std::move(r)); };
    pool_.submit(std::move(job));
  }
}

http::Response Runner::compile(const http::Request& req) {
  auto body = api::parse_body(req, 1u << 20);
  if (body.error) return *body.error;
  auto code = json::opt_string(body.doc, "code");
  if (!code || !*code) return api::validation_error({"body", "code"}, "Field required", "missing");
  if ((*code)->size() > limits_.max_code_bytes)
    return api::validation_error({"body", "code"}, "Code should be at most 262144 bytes (256 KiB)", "string_too_long");
  Job job;
  job.wire.kind = protocol::JobKind::compile;
  job.wire.key = "compile";
  job.wire.code = std::string(**code);
  auto r = pool_.run(std::move(job));
  if (r.is_unavailable()) return unavailable_response(r);
  if (r.has_error) return syntax_error(r);
  return http::Response::json(200, R"({"valid":true})");
}

namespace {
struct TestInput {
  std::string input = "{}", params = "{}";
  int timeout_ms = 0;
  std::optional<http::Response> error;
};

TestInput read_test(const json::Value& body, const RunnerLimits& limits) {
  TestInput t;
  std::vector<api::FieldError> errors;
  const auto* input = json::find(body, "input");
  const auto* params = json::find(body, "parameters");
  const auto* timeout = json::find(body, "timeout_ms");
  if (input && !input->IsNull()) {
    if (input->IsObject())
      t.input = json::to_string(*input);
    else
      errors.push_back({{"body", "input"}, "Input should be a valid dictionary", "dict_type"});
  }
  if (params && !params->IsNull()) {
    if (params->IsObject())
      t.params = json::to_string(*params);
    else
      errors.push_back({{"body", "parameters"}, "Input should be a valid dictionary", "dict_type"});
  }
  t.timeout_ms = limits.default_timeout_ms;
  if (timeout && !timeout->IsNull()) {
    if (timeout->IsInt64() && timeout->GetInt64() >= 1 && timeout->GetInt64() <= limits.max_timeout_ms)
      t.timeout_ms = static_cast<int>(timeout->GetInt64());
    else
      errors.push_back({{"body", "timeout_ms"}, "Input should be an integer from 1 to 5000", "int_range"});
  }
  if (!errors.empty()) t.error = api::validation_error(errors);
  return t;
}

http::Response result_response(const RunResult& r) {
  json::Writer w;
  write_result(w, r);
  return http::Response::json(200, w.take());
}

// The caller of a test run, as the gateway names it; callers it does not name share one share.
std::string caller_of(const http::Request& req) { return req.header("Dm-User-Id").value_or("anonymous"); }

http::Response too_many_tests(const TestGate& gate) {
  auto res = http::Response::error(
      429, "Too many test runs at once for this caller: at most " + std::to_string(gate.concurrency()) + " run and " +
               std::to_string(gate.queue()) + " wait; try again when one has finished");
  res.headers.set("Retry-After", "1");
  return res;
}
}  // namespace

void Runner::run_test(const http::Request& req, Job job, bool syntax_errors_are_422, http::Reply reply) {
  job.test = true;
  // std::function needs a copyable callable: the job travels behind a shared_ptr.
  auto shared = std::make_shared<Job>(std::move(job));
  bool admitted = gate_.admit(caller_of(req), [this, shared, syntax_errors_are_422, reply](TestGate::Finished finished) {
    shared->done = [reply, finished, syntax_errors_are_422](RunResult r) {
      if (r.is_unavailable())
        reply(unavailable_response(r));
      else if (syntax_errors_are_422 && r.line > 0)
        reply(syntax_error(r));
      else
        reply(result_response(r));
      finished();
    };
    pool_.submit(std::move(*shared));
  });
  if (!admitted) reply(too_many_tests(gate_));
}

void Runner::test_inline(const http::Request& req, http::Reply reply) {
  auto body = api::parse_body(req, 2u << 20);
  if (body.error) return reply(std::move(*body.error));
  auto code = json::opt_string(body.doc, "code");
  if (!code || !*code || (*code)->empty())
    return reply(api::validation_error({"body", "code"}, "Field required", "missing"));
  if ((*code)->size() > limits_.max_code_bytes)
    return reply(
        api::validation_error({"body", "code"}, "Code should be at most 262144 bytes (256 KiB)", "string_too_long"));
  auto t = read_test(body.doc, limits_);
  if (t.error) return reply(std::move(*t.error));
  // Keyed by the code's hash: repeated tests of the same text reuse the compiled context, and
  // code that keeps crashing workers is quarantined like a stored function.
  auto text = std::make_shared<const std::string>(**code);
  Job job;
  job.wire.kind = protocol::JobKind::run;
  job.wire.key = "test:" + std::to_string(std::hash<std::string>{}(*text)) + ":" + std::to_string(text->size());
  job.wire.input = t.input;
  job.wire.params = t.params;
  job.wire.timeout_ms = static_cast<std::uint32_t>(t.timeout_ms);
  job.code = text;
  job.function_id = job.wire.key;
  run_test(req, std::move(job), true, std::move(reply));
}

void Runner::test_saved(const http::Request& req, http::Reply reply) {
  const auto& id = req.params.at("id");
  auto body = api::parse_body(req, 2u << 20);
  if (body.error) return reply(std::move(*body.error));
  auto t = read_test(body.doc, limits_);
  if (t.error) return reply(std::move(*t.error));
  if (!is_token(id)) return reply(http::Response::error(404, "Function not found"));
  auto code = cache_.get_one(id);
  if (!code) {
    if (code.error().code == Errc::not_found) return reply(http::Response::error(404, "Function not found"));
    return reply(http::Response::error(503, "Function definitions are unavailable: " + code.error().message));
  }
  Job job;
  job.wire.kind = protocol::JobKind::run;
  job.wire.key = (*code)->key();
  job.wire.input = t.input;
  job.wire.params = merge_params((*code)->defaults, t.params);
  job.wire.timeout_ms = static_cast<std::uint32_t>(t.timeout_ms);
  job.code = (*code)->code;
  job.function_id = id;
  run_test(req, std::move(job), false, std::move(reply));
}

void Runner::add_routes(http::Router& router) {
  router.add_sync("POST", "/internal/v1/compile", [this](const http::Request& r) { return compile(r); });
  router.add("POST", "/api/v1/functions/test",
             [this](const http::Request& r, http::Reply reply) { test_inline(r, std::move(reply)); });
  router.add("POST", "/api/v1/functions/{id}/test",
             [this](const http::Request& r, http::Reply reply) { test_saved(r, std::move(reply)); });
}

}  // namespace dm::function_runner
