#include "runner.hpp"

#include <atomic>
#include <functional>

#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/time.hpp"
#include "dm/json/json.hpp"

namespace dm::function_runner {
namespace {

// One execution of a batch: as read from the request (or why it cannot run), and what ran.
struct Exec {
  contract::ExecRequestItem item;
  std::int64_t version = 0;  // the version that ran; 0 = none
  bool found = false;        // the registry knows the function
};

// Shared by the jobs of one request; the last one to finish sends the reply.
struct Batch {
  bus::Message request;
  std::string at;  // when the batch arrived: the runs' recorded time
  std::vector<Exec> execs;
  std::vector<RunResult> results;
  std::atomic<std::size_t> left{0};
};

// The worker's word for what happened. A worker is not trusted with its results: a word
// outside the contract is an error.
contract::ExecStatus exec_status(const RunResult& r) {
  return contract::parse<contract::ExecStatus>(r.status).value_or(contract::ExecStatus::error);
}

// Answers dm.fn.exec with every result of the batch, in order. A reply over the server's
// max_payload travels in parts (bus::Connection::respond; the orchestrator's request_async
// takes them), so no output is ever replaced for its size here.
void reply_batch(bus::Connection& conn, Batch& batch) {
  contract::ExecReplyWriter reply;
  for (std::size_t k = 0; k < batch.execs.size(); ++k)
    reply.add(exec_result(batch.results[k], &batch.execs[k].item.id, batch.execs[k].version));
  if (auto sent = conn.respond(batch.request, reply.take(), {{"Content-Type", "application/json"}}); !sent)
    log::error("dm.fn.exec reply failed", {{"error", sent.error().message}});
}

// The registry's status of each function follows its last run in a flow (not runs that did
// not happen for reasons that are not the function's).
void report_status(StatusReporter* status, const Batch& batch) {
  if (!status) return;
  for (std::size_t i = 0; i < batch.execs.size(); ++i) {
    const Exec& x = batch.execs[i];
    const RunResult& r = batch.results[i];
    if (!x.found || r.is_unavailable()) continue;
    auto status_now = exec_status(r);
    status->record(x.item.execution->function_id,
                   status_now == contract::ExecStatus::success || status_now == contract::ExecStatus::filtered,
                   batch.at);
  }
}

// Why an execution cannot run, as its result; nothing when it can.
std::optional<RunResult> refusal(const Exec& x, const std::map<std::string, Result<CodePtr>>& codes) {
  if (!x.item.execution) return RunResult::failure(x.item.execution.error().message);
  const auto& code = codes.at(x.item.execution->function_id);
  if (code) return std::nullopt;
  // Not found is the caller's problem; a registry that cannot be asked is nobody's.
  if (code.error().code == Errc::not_found) return RunResult::failure("function not found");
  return RunResult::unavailable("function definition unavailable: " + code.error().message);
}

// The pool's job for an execution that can run; `x` learns the version that runs (the
// registry may be ahead of the caller).
Job flow_job(Exec& x, const CodePtr& fc, const RunnerLimits& limits) {
  auto& e = *x.item.execution;
  x.found = true;
  x.version = fc->version;
  Job job;
  job.wire.kind = protocol::JobKind::run;
  job.wire.key = fc->key();
  job.wire.input = std::move(e.input);  // the batch is done with it
  job.wire.params = merge_params(fc->defaults, e.parameters);
  job.wire.timeout_ms = static_cast<std::uint32_t>(std::min(e.timeout_ms, limits.max_timeout_ms));
  job.code = fc->code;
  job.function_id = e.function_id;
  return job;
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

contract::ExecResultRef exec_result(const RunResult& r, const std::string* id, std::int64_t version) {
  contract::ExecResultRef out{.status = exec_status(r), .logs = r.logs, .duration_ms = r.duration_ms};
  if (id) out.id = *id;
  if (version > 0) out.version = version;
  if (out.status == contract::ExecStatus::success && !r.output.empty()) out.output = r.output;
  if (r.has_error) {
    out.error = contract::FnErrorRef{.message = r.error_message};
    if (!r.error_stack.empty()) out.error->stack = r.error_stack;
  }
  return out;
}

void Runner::handle_exec(bus::Message&& request) {
  auto items = contract::decode_exec_request(request.data);
  if (!items) {
    (void)reply_.respond(request, json::detail("body must be {\"executions\": [...]} with at least one execution"),
                         {{"Dm-Status", "400"}, {"Content-Type", "application/json"}});
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->execs.reserve(items->size());
  std::map<std::string, std::int64_t> wanted;
  for (auto& item : *items) {
    if (item.execution) {
      auto& version = wanted[item.execution->function_id];
      version = std::max(version, item.execution->version);
    }
    batch->execs.push_back({std::move(item)});
  }
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
    if (auto refused = refusal(x, codes)) {
      finish_one(i, std::move(*refused));
      continue;
    }
    Job job = flow_job(x, *codes.at(x.item.execution->function_id), limits_);
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
  return http::Response::json(200, contract::encode(exec_result(r)));
}

// The caller of a test run, as the gateway names it; callers it does not name share one share.
std::string caller_of(const http::Request& req) { return req.header("Dm-User-Id").value_or("anonymous"); }

http::Response too_many_tests(const TestGate& gate) {
  auto res = http::Response::error(429, "Too many test runs at once for this caller: at most " +
                                            std::to_string(gate.concurrency()) + " run and " +
                                            std::to_string(gate.queue()) + " wait; try again when one has finished");
  res.headers.set("Retry-After", "1");
  return res;
}
}  // namespace

void Runner::run_test(const http::Request& req, Job job, bool syntax_errors_are_422, const http::Reply& reply) {
  job.test = true;
  // std::function needs a copyable callable: the job travels behind a shared_ptr.
  auto shared = std::make_shared<Job>(std::move(job));
  bool admitted =
      gate_.admit(caller_of(req), [this, shared, syntax_errors_are_422, reply](const TestGate::Finished& finished) {
        shared->done = [reply, finished, syntax_errors_are_422](const RunResult& r) {
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
  run_test(req, std::move(job), true, reply);
}

void Runner::test_saved(const http::Request& req, http::Reply reply) {
  const auto& id = req.params.at("id");
  auto body = api::parse_body(req, 2u << 20);
  if (body.error) return reply(std::move(*body.error));
  auto t = read_test(body.doc, limits_);
  if (t.error) return reply(std::move(*t.error));
  if (!contract::subject::is_token(id)) return reply(http::Response::error(404, "Function not found"));
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
  run_test(req, std::move(job), false, reply);
}

void Runner::add_routes(http::Router& router) {
  router.add_sync("POST", "/internal/v1/compile", [this](const http::Request& r) { return compile(r); });
  router.add("POST", "/api/v1/functions/test",
             [this](const http::Request& r, http::Reply reply) { test_inline(r, std::move(reply)); });
  router.add("POST", "/api/v1/functions/{id}/test",
             [this](const http::Request& r, http::Reply reply) { test_saved(r, std::move(reply)); });
}

}  // namespace dm::function_runner
