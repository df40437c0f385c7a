#include "engine.hpp"

#include <condition_variable>
#include <mutex>

#include "dm/contract/subjects.hpp"
#include "dm/core/time.hpp"

namespace dm::flow_orchestrator {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string str(const json::Value& o, const char* key) {
  const auto* v = json::find(o, key);
  return v && v->IsString() ? std::string(json::view(*v)) : std::string();
}

}  // namespace

// Waits for a known number of callbacks from library threads.
class Latch {
 public:
  explicit Latch(std::size_t n) : left_(n) {}
  void done() {
    std::lock_guard lock(mu_);
    if (--left_ == 0) cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return left_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t left_;
};

// One node to run with its input message.
struct Engine::Pending {
  std::size_t job;
  std::size_t node;
  std::string message;
  std::size_t depth;  // nodes along the path, the trigger being 1
};

// What a level asks of the runner: request bodies, each under the payload limit, and the
// executions each one carries.
struct Engine::Requests {
  std::vector<std::string> bodies;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;  // into the level's functions
  std::vector<std::size_t> too_large;                       // executions that fit in no request
};

struct Engine::State {
  std::vector<RunJob>& jobs;
  std::vector<int> ok, filtered, failed;
  std::vector<Clock::time_point> started;
  std::vector<Pending> level, next;

  const Node& node(const Pending& p) const { return jobs[p.job].flow->nodes.at(p.node); }
  void defer(std::size_t j, std::string why) {
    if (!jobs[j].deferred) jobs[j].deferred_reason = std::move(why);
    jobs[j].deferred = true;
  }
  // The node ended its branch with an error (recorded on the path).
  void fail(const Pending& p, std::string status, std::string error, double duration_ms = 0) {
    const Node& n = node(p);
    jobs[p.job].run.path.push_back({n.id, n.type, n.entity_id, std::move(status), duration_ms, std::move(error)});
    ++failed[p.job];
  }
  // After a node succeeded: its successors form the next level, or the branch ends well.
  void advance(const Pending& p, const std::string& message) {
    const Node& n = node(p);
    if (n.next.empty()) ++ok[p.job];
    for (std::size_t k : n.next) next.push_back({p.job, k, message, p.depth + 1});
  }
};

namespace {

std::string execution_json(const Node& node, const Run& run, const std::string& message, int timeout_ms) {
  json::Writer w;
  w.start_object()
      .field("id", run.run_key + ":" + node.id)
      .field("function_id", node.entity_id)
      .field("version", std::int64_t{1})  // the runner runs its newest cached version at or above it
      .key("input")
      .raw(message)
      .key("parameters")
      .raw(node.parameters)
      .field("timeout_ms", timeout_ms);
  w.key("context")
      .start_object()
      .field("flow_id", run.flow_id)
      .field("flow_run_id", run.run_key)
      .field("node_id", node.id)
      .field("dev_eui", run.dev_eui)
      .field("replay", run.replay)
      .end_object()
      .end_object();
  return w.take();
}

// Room for the request's own envelope ({"executions":[...]}, commas) and NATS headers.
constexpr std::size_t kEnvelopeMargin = 4096;

std::string delivery_job_json(const Node& node, const Run& run, const std::string& message) {
  json::Writer w;
  w.start_object()
      .field("job_id", run.run_key + ":" + node.id)
      .field("kind", node.type)
      .field("target_id", node.entity_id)
      .field("flow_id", run.flow_id)
      .field("flow_run_id", run.run_key)
      .field("node_id", node.id)
      .field("dev_eui", run.dev_eui)
      .key("message")
      .raw(message)
      .field("created_at", format_rfc3339(now()))
      .end_object();
  return w.take();
}

}  // namespace

void Engine::run_all(std::vector<RunJob>& jobs) {
  State st{jobs,
           std::vector<int>(jobs.size()),
           std::vector<int>(jobs.size()),
           std::vector<int>(jobs.size()),
           std::vector<Clock::time_point>(jobs.size()),
           {},
           {}};
  for (std::size_t j = 0; j < jobs.size(); ++j) start(st, j);
  while (!st.level.empty()) run_level(st);
  // Recorded times increase in job order (a microsecond apart), so history sorted by time
  // shows one device's uplinks in arrival order.
  auto at = now();
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    Run& r = jobs[j].run;
    r.status = run_status(st.ok[j], st.filtered[j], st.failed[j]);
    r.duration_ms = ms_since(st.started[j]);
    r.at = format_rfc3339(at + std::chrono::microseconds(j));
  }
}

void Engine::start(State& st, std::size_t j) {
  auto& job = st.jobs[j];
  st.started[j] = Clock::now();
  Run& r = job.run;
  r.flow_id = job.flow->id;
  r.flow_version = job.flow->version < 1 ? 1 : job.flow->version;
  r.dedup_id = job.uplink->dedup_id;
  r.run_key = job.key.empty() ? run_key(job.flow->id, job.uplink->dedup_id) : job.key;
  r.replay = job.replay;
  r.dev_eui = job.uplink->dev_eui;
  r.device_id = job.uplink->device_id;
  const Node& t = job.flow->nodes.at(job.trigger);
  r.trigger_node = t.id;
  r.path.push_back({t.id, t.type, t.entity_id, "success", 0, std::nullopt});
  for (std::size_t n : t.next) st.level.push_back({j, n, job.uplink->message, 2});
}

// One graph level: its function executions go to the runner in batched requests (all in
// flight at once), its delivery jobs are published asynchronously in job order (so one
// device's deliveries enter the stream in arrival order), and the outputs become the next level.
void Engine::run_level(State& st) {
  std::vector<Pending> functions, deliveries;
  for (auto& p : st.level) {
    if (st.jobs[p.job].deferred) continue;
    const Node& node = st.node(p);
    if (p.depth > options_.max_depth)
      st.fail(p, "error", "depth limit exceeded");
    else if (node.type == "function")
      functions.push_back(std::move(p));
    else if (node.type == "integration" || node.type == "storage")
      deliveries.push_back(std::move(p));
    else
      st.fail(p, "skipped", "not a node that can follow an edge");
  }
  st.level.clear();

  Requests requests = plan_requests(st, functions);
  std::vector<std::optional<Result<bus::Message>>> replies(requests.bodies.size());
  Latch fn_latch(requests.bodies.size());
  auto timeout = std::chrono::milliseconds(options_.function_timeout_ms) + options_.request_margin;
  for (std::size_t c = 0; c < requests.bodies.size(); ++c) {
    rpc_.request_async(contract::subject::kFunctionExec, requests.bodies[c], timeout,
                       [&replies, &fn_latch, c](Result<bus::Message> r) {
                         replies[c] = std::move(r);
                         fn_latch.done();
                       },
                       {{"Content-Type", "application/json"}});
  }
  std::vector<std::optional<Result<bus::PubAck>>> acks(deliveries.size());
  auto js_t0 = Clock::now();
  queue_deliveries(st, deliveries, acks);
  fn_latch.wait();
  double js_ms = ms_since(js_t0);

  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    const Pending& p = deliveries[i];
    if (!acks[i]) continue;  // failed its step already (too large to queue)
    // Durably queued = done for the flow; the dispatcher de-duplicates on job_id.
    if (!acks[i]->ok()) {
      st.defer(p.job, "delivery job not queued: " + acks[i]->error().message);
      continue;
    }
    const Node& node = st.node(p);
    st.jobs[p.job].run.path.push_back({node.id, node.type, node.entity_id, "dispatched", js_ms, std::nullopt});
    st.advance(p, p.message);
  }
  for (std::size_t i : requests.too_large)
    st.fail(functions[i], "error",
            "the input message (" + std::to_string(functions[i].message.size()) +
                " bytes) is too large to send to the function runner");
  for (std::size_t c = 0; c < requests.bodies.size(); ++c) apply_replies(st, functions, requests.ranges[c], *replies[c]);
  st.level = std::move(st.next);
  st.next.clear();
}

Engine::Requests Engine::plan_requests(State& st, const std::vector<Pending>& functions) const {
  Requests out;
  const std::size_t limit = rpc_.max_payload() > kEnvelopeMargin ? rpc_.max_payload() - kEnvelopeMargin : 0;
  std::string body;
  std::size_t first = 0;
  auto close = [&](std::size_t end) {
    if (end == first) return;
    out.bodies.push_back("{\"executions\":[" + body + "]}");
    out.ranges.emplace_back(first, end);
    body.clear();
  };
  for (std::size_t i = 0; i < functions.size(); ++i) {
    const Pending& p = functions[i];
    std::string exec = execution_json(st.node(p), st.jobs[p.job].run, p.message, options_.function_timeout_ms);
    if (exec.size() > limit) {
      close(i);
      out.too_large.push_back(i);
      first = i + 1;
      continue;
    }
    if (i > first && (i - first >= options_.exec_batch || body.size() + 1 + exec.size() > limit)) {
      close(i);
      first = i;
    }
    if (!body.empty()) body += ',';
    body += exec;
  }
  close(functions.size());
  return out;
}

// Publishes the level's delivery jobs; `acks[i]` is filled when the PubAck (or the error)
// arrives, or at once with nothing for a job that is too large for the stream (its step fails).
void Engine::queue_deliveries(State& st, const std::vector<Pending>& deliveries,
                              std::vector<std::optional<Result<bus::PubAck>>>& acks) {
  const std::size_t limit = js_.max_payload() > kEnvelopeMargin ? js_.max_payload() - kEnvelopeMargin : 0;
  std::vector<std::string> bodies(deliveries.size());
  std::size_t queued = 0;
  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    bodies[i] = delivery_job_json(st.node(deliveries[i]), st.jobs[deliveries[i].job].run, deliveries[i].message);
    if (bodies[i].size() <= limit) ++queued;
  }
  Latch js_latch(queued);
  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    const Pending& p = deliveries[i];
    const Node& node = st.node(p);
    if (bodies[i].size() > limit) {
      st.fail(p, "error",
              "the message (" + std::to_string(p.message.size()) + " bytes) is too large to queue for delivery");
      continue;
    }
    js_.jetstream().publish_async(contract::subject::dispatch(node.entity_id), bodies[i],
                                  st.jobs[p.job].run.run_key + ":" + node.id,
                                  [&acks, &js_latch, i](Result<bus::PubAck> r) {
                                    acks[i] = std::move(r);
                                    js_latch.done();
                                  });
  }
  js_latch.wait();
}

// The runner's answer for functions[range): each result becomes a step; no answer at all (no
// runner, none in time) or a result `unavailable` is not the function's fault: the run is
// deferred and its uplink comes back later.
void Engine::apply_replies(State& st, std::vector<Pending>& functions, std::pair<std::size_t, std::size_t> range,
                           const Result<bus::Message>& reply) {
  auto [first, last] = range;
  if (!reply.ok()) {
    for (std::size_t i = first; i < last; ++i) st.defer(functions[i].job, "function runner: " + reply.error().message);
    return;
  }
  std::optional<std::string> batch_error;
  json::Document doc;
  const json::Value* results = nullptr;
  if (auto s = reply->header("Dm-Status"); s && *s != "200") {
    batch_error = "function runner answered " + *s + ": " + reply->data.substr(0, 1024);
  } else if (auto parsed = json::parse(reply->data, {.max_bytes = 256u << 20, .max_depth = 128}); parsed) {
    doc = std::move(parsed).value();
    results = doc.IsObject() ? json::find(doc, "results") : nullptr;
    if (!results || !results->IsArray() || results->Size() != last - first) batch_error = "function runner reply unreadable";
  } else {
    batch_error = "function runner reply unreadable";
  }
  for (std::size_t i = first; i < last; ++i) {
    if (batch_error) {
      st.fail(functions[i], "error", *batch_error);
      continue;
    }
    apply_result(st, functions[i], (*results)[static_cast<rapidjson::SizeType>(i - first)]);
  }
}

void Engine::apply_result(State& st, Pending& p, const json::Value& res) {
  const Node& node = st.node(p);
  if (!res.IsObject()) return st.fail(p, "error", "function runner reply unreadable");
  std::string status = str(res, "status");
  if (status == "unavailable") {
    const auto* e = json::find(res, "error");
    st.defer(p.job, "function runner: " + (e && e->IsObject() ? str(*e, "message") : std::string("unavailable")));
    return;
  }
  auto& run = st.jobs[p.job].run;
  FunctionRun fr;
  fr.run_id = run.run_key + ":" + node.id;
  fr.function_id = node.entity_id;
  fr.node_id = node.id;
  if (const auto* v = json::find(res, "version"); v && v->IsInt64()) fr.version = v->GetInt64();
  if (const auto* d = json::find(res, "duration_ms"); d && d->IsNumber()) fr.duration_ms = d->GetDouble();
  if (const auto* l = json::find(res, "logs"); l && l->IsArray()) fr.logs = json::to_string(*l);
  std::optional<std::string> message;
  if (const auto* e = json::find(res, "error"); e && e->IsObject()) {
    fr.error = json::to_string(*e);
    message = str(*e, "message");
  }
  const auto* output = json::find(res, "output");
  Step step{node.id, node.type, node.entity_id, status, fr.duration_ms, message};
  if (status == "success" && output && output->IsObject()) {
    fr.output = json::to_string(*output);
    run.path.push_back(std::move(step));
    st.advance(p, *fr.output);
  } else if (status == "success" || status == "filtered") {
    step.status = status = "filtered";  // no object to go on with
    run.path.push_back(std::move(step));
    ++st.filtered[p.job];
  } else {
    if (status != "timeout") status = "error";
    st.fail(p, status, message.value_or("function failed"), fr.duration_ms);
  }
  fr.status = status;
  fr.input = std::move(p.message);  // the level is done with it
  run.functions.push_back(std::move(fr));
}

}  // namespace dm::flow_orchestrator
