#include "walker.hpp"

#include <algorithm>
#include <cassert>
#include <numeric>

#include "dm/contract/work.hpp"
#include "json_text.hpp"

namespace dm::flow_orchestrator {
namespace {

// Room for a request's own envelope ({"executions":[...]}, commas) and NATS headers.
constexpr std::size_t kEnvelopeMargin = 4096;

std::size_t room_in(std::size_t max_payload) {
  return max_payload > kEnvelopeMargin ? max_payload - kEnvelopeMargin : 0;
}

// The contract's execution of a function node, with where it comes from.
std::string execution_json(const Node& node, const Run& run, const std::string& message, int timeout_ms) {
  const std::string id = run.run_key + ":" + node.id;
  return contract::encode(
      contract::ExecutionRef{.id = id,
                             .function_id = node.entity_id,
                             .version = 1,  // the runner runs its newest cached version at or above it
                             .input = message,
                             .parameters = node.parameters,
                             .timeout_ms = timeout_ms,
                             .context = contract::BasicExecContext<std::string_view>{.flow_id = run.flow_id,
                                                                                     .flow_run_id = run.run_key,
                                                                                     .node_id = node.id,
                                                                                     .dev_eui = run.dev_eui,
                                                                                     .replay = run.replay}});
}

// The contract's delivery job for an integration or storage node (the only kinds queued).
std::string delivery_job_json(const Node& node, const Run& run, const std::string& message, SysTime now) {
  const std::string job_id = run.run_key + ":" + node.id;
  const std::string created_at = format_rfc3339(now);
  return contract::encode(contract::DeliveryJobRef{
      .job_id = job_id,
      .kind = node.type == "storage" ? contract::JobKind::storage : contract::JobKind::integration,
      .target_id = node.entity_id,
      .flow_id = run.flow_id,
      .flow_run_id = run.run_key,
      .node_id = node.id,
      .dev_eui = run.dev_eui,
      .message = message,
      .created_at = created_at});
}

}  // namespace

// One node to run with its input message, and, once decided, what became of it.
struct Walker::Item {
  // Where its step goes in its level's part of the path, unless WalkerOptions::node_order:
  // the order in which recorded runs have always had them.
  enum Phase : int {
    kRefused = 0,  // cannot run at all: past the depth limit, a type that cannot follow an edge
    kJobTooLarge = 1,
    kJob = 2,
    kExecutionTooLarge = 3,
    kExecution = 4,
  };
  enum class End { open, goes_on, filtered, failed, deferred };

  std::size_t job = 0;
  const Node* node = nullptr;  // in jobs_[job].flow, which the job keeps alive
  std::string message;         // its input
  std::size_t depth = 0;       // nodes along the path, the trigger being 1
  Phase phase = kRefused;
  End end = End::open;
  Step step;                            // recorded on the path unless deferred
  std::string next;                     // goes_on: the message for the nodes after it; deferred: why
  std::optional<FunctionRun> function;  // the execution, when the runner answered for it

  void end_with(End how, std::string status, double duration_ms, std::optional<std::string> error) {
    end = how;
    step = {node->id, node->type, node->entity_id, std::move(status), duration_ms, std::move(error)};
  }
  // The branch ends here, failed (or skipped), with `error` on the step.
  void fail(std::string status, std::string error, double duration_ms = 0) {
    end_with(End::failed, std::move(status), duration_ms, std::move(error));
  }
  void go_on(std::string status, double duration_ms, std::optional<std::string> error, std::string passed_on) {
    end_with(End::goes_on, std::move(status), duration_ms, std::move(error));
    next = std::move(passed_on);
  }
  // Not the flow's fault (no runner, no ack): the run is not recorded and its uplink comes back.
  void defer(std::string why) {
    end = End::deferred;
    next = std::move(why);
  }
};

Walker::Walker(std::vector<RunJob>& jobs, WalkerOptions options) : jobs_(jobs), options_(options), tally_(jobs.size()) {
  for (std::size_t j = 0; j < jobs_.size(); ++j) start(j);
}

Walker::~Walker() = default;

bool Walker::done() const { return level_.empty(); }

void Walker::start(std::size_t j) {
  RunJob& job = jobs_[j];
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
  record(job, {t.id, t.type, t.entity_id, "success", 0, std::nullopt}, job.uplink->message, "[]");
  for (std::size_t k : t.next) level_.push_back(Item{j, &job.flow->nodes.at(k), job.uplink->message, 2});
}

LevelPlan Walker::plan(const PayloadLimits& limits, SysTime now) {
  items_.clear();
  requests_.clear();
  queued_.clear();
  for (auto& item : level_)
    if (!jobs_[item.job].deferred) items_.push_back(std::move(item));  // a deferred run is walked no further
  level_.clear();
  LevelPlan plan;
  std::vector<std::size_t> functions;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    Item& item = items_[i];
    if (item.depth > options_.max_depth) {
      item.fail("error", "depth limit exceeded");  // a graph the registry never checked
    } else if (item.node->type == "function") {
      functions.push_back(i);
    } else if (item.node->type == "integration" || item.node->type == "storage") {
      add_job(plan, i, limits.job, now);
    } else {
      item.fail("skipped", "not a node that can follow an edge");  // the registry refuses it
    }
  }
  plan.requests = batch(functions, limits.request);
  return plan;
}

// A delivery job for the item. One too large for the stream is an error of its step
// (recorded), not an outage retried forever.
void Walker::add_job(LevelPlan& plan, std::size_t i, std::size_t max_payload, SysTime now) {
  Item& item = items_[i];
  const Run& run = jobs_[item.job].run;
  std::string body = delivery_job_json(*item.node, run, item.message, now);
  if (body.size() > room_in(max_payload)) {
    item.phase = Item::kJobTooLarge;
    return item.fail(
        "error", "the message (" + std::to_string(item.message.size()) + " bytes) is too large to queue for delivery");
  }
  item.phase = Item::kJob;
  plan.jobs.push_back(
      {item.node->entity_id, run.run_key + ":" + item.node->id, std::move(body), jobs_[item.job].repeat});
  queued_.push_back(i);
}

// The level's executions in requests of at most exec_batch, each under the payload limit. An
// execution too large for any request fails its step, like a job too large for the stream.
std::vector<FunctionRequest> Walker::batch(const std::vector<std::size_t>& functions, std::size_t max_payload) {
  const std::size_t limit = room_in(max_payload);
  std::vector<FunctionRequest> out;
  FunctionRequest open;
  std::vector<std::size_t> open_items;
  std::string list;  // the open request's executions, comma-separated
  auto close = [&] {
    if (open.executions.empty()) return;
    open.body = "{\"executions\":[" + list + "]}";
    out.push_back(std::move(open));
    requests_.push_back(std::move(open_items));
    open = {};
    open_items.clear();
    list.clear();
  };
  for (std::size_t i : functions) {
    Item& item = items_[i];
    std::string exec = execution_json(*item.node, jobs_[item.job].run, item.message, options_.function_timeout_ms);
    if (exec.size() > limit) {
      close();
      item.phase = Item::kExecutionTooLarge;
      item.fail("error", "the input message (" + std::to_string(item.message.size()) +
                             " bytes) is too large to send to the function runner");
      continue;
    }
    item.phase = Item::kExecution;
    if (!open.executions.empty() &&
        (open.executions.size() >= options_.exec_batch || list.size() + 1 + exec.size() > limit))
      close();
    if (!list.empty()) list += ',';
    list += exec;
    open.executions.push_back({item.job, item.node, &item.message});
    open_items.push_back(i);
  }
  close();
  return out;
}

void Walker::apply(const LevelReplies& replies) {
  for (std::size_t k = 0; k < queued_.size(); ++k)
    apply_ack(items_[queued_[k]], replies.acks.at(k), replies.delivery_ms);
  for (std::size_t r = 0; r < requests_.size(); ++r) apply_reply(requests_[r], replies.replies.at(r));
  std::vector<std::size_t> order(items_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!options_.node_order)
    std::stable_sort(order.begin(), order.end(),
                     [this](std::size_t a, std::size_t b) { return items_[a].phase < items_[b].phase; });
  for (std::size_t i : order) settle(items_[i]);
  items_.clear();
  requests_.clear();
  queued_.clear();
}

// Durably queued is done for the flow: the dispatcher delivers it, once (it de-duplicates on job_id).
void Walker::apply_ack(Item& item, const Result<Queued>& ack, double delivery_ms) {
  if (!ack) return item.defer("delivery job not queued: " + ack.error().message);
  if (*ack == Queued::skipped) return item.go_on("skipped", 0, std::nullopt, std::move(item.message));
  item.go_on("dispatched", delivery_ms, std::nullopt, std::move(item.message));
}

// The runner's answer to one request. No answer at all (no runner, none in time) is not the
// functions' fault: their runs are deferred. An answer that cannot be read fails them all.
void Walker::apply_reply(const std::vector<std::size_t>& items, const Result<RunnerReply>& reply) {
  if (!reply) {
    for (std::size_t i : items) items_[i].defer("function runner: " + reply.error().message);
    return;
  }
  std::optional<std::string> batch_error;
  json::Document doc;
  const json::Value* results = nullptr;
  if (reply->status && *reply->status != "200") {
    batch_error = "function runner answered " + *reply->status + ": " + reply->body.substr(0, 1024);
  } else if (auto parsed = json::parse(reply->body, {.max_bytes = 256u << 20, .max_depth = 128}); parsed) {
    doc = std::move(parsed).value();
    results = doc.IsObject() ? json::find(doc, "results") : nullptr;
    if (!results || !results->IsArray() || results->Size() != items.size())
      batch_error = "function runner reply unreadable";
  } else {
    batch_error = "function runner reply unreadable";
  }
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (batch_error)
      items_[items[k]].fail("error", *batch_error);
    else
      apply_result(items_[items[k]], (*results)[static_cast<rapidjson::SizeType>(k)]);
  }
}

// One execution's result: an object goes on to the nodes after it; null or false (filtered)
// ends the branch quietly; an error or a timeout ends it failed; `unavailable` (the runner
// could not run it, e.g. shutting down) defers the run.
void Walker::apply_result(Item& item, const json::Value& res) {
  if (!res.IsObject()) return item.fail("error", "function runner reply unreadable");
  std::string status = string_of(res, "status");
  if (status == "unavailable") {
    const auto* e = json::find(res, "error");
    return item.defer("function runner: " +
                      (e && e->IsObject() ? string_of(*e, "message") : std::string("unavailable")));
  }
  const Node& node = *item.node;
  FunctionRun fr;
  fr.run_id = jobs_[item.job].run.run_key + ":" + node.id;
  fr.function_id = node.entity_id;
  fr.node_id = node.id;
  if (const auto* v = json::find(res, "version"); v && v->IsInt64()) fr.version = v->GetInt64();
  if (const auto* d = json::find(res, "duration_ms"); d && d->IsNumber()) fr.duration_ms = d->GetDouble();
  if (const auto* l = json::find(res, "logs"); l && l->IsArray()) fr.logs = json::to_string(*l);
  std::optional<std::string> message;
  if (const auto* e = json::find(res, "error"); e && e->IsObject()) {
    fr.error = json::to_string(*e);
    message = string_of(*e, "message");
  }
  const auto* output = json::find(res, "output");
  if (status == "success" && output && output->IsObject()) {
    fr.output = json::to_string(*output);
    item.go_on(status, fr.duration_ms, message, *fr.output);
  } else if (status == "success" || status == "filtered") {
    status = "filtered";  // no object to go on with
    item.end_with(Item::End::filtered, status, fr.duration_ms, message);
  } else {
    if (status != "timeout") status = "error";
    item.fail(status, message.value_or("function failed"), fr.duration_ms);
  }
  fr.status = status;
  fr.input = std::move(item.message);  // the level is done with it
  item.function = std::move(fr);
}

// What became of a node, applied to its run: a step on the path, the execution, and the
// nodes after it (the next level) or the end of its branch.
void Walker::settle(Item& item) {
  assert(item.end != Item::End::open);  // every planned node has an answer: the replies match the plan
  RunJob& job = jobs_[item.job];
  if (item.end == Item::End::deferred) {
    if (!job.deferred) job.deferred_reason = std::move(item.next);
    job.deferred = true;
    return;
  }
  const bool goes_on = item.end == Item::End::goes_on;
  record(job, std::move(item.step), goes_on ? std::string_view(item.next) : std::string_view("null"),
         item.function ? std::string_view(item.function->logs) : std::string_view("[]"));
  if (item.function) job.run.functions.push_back(std::move(*item.function));
  Tally& tally = tally_[item.job];
  if (item.end == Item::End::filtered) {
    ++tally.filtered;
  } else if (item.end == Item::End::failed) {
    ++tally.failed;
  } else {
    if (item.node->next.empty()) ++tally.ok;
    for (std::size_t k : item.node->next)
      level_.push_back(Item{item.job, &job.flow->nodes.at(k), item.next, item.depth + 1});
  }
}

void Walker::record(RunJob& job, Step step, std::string_view output, std::string_view logs) {
  job.run.path.push_back(std::move(step));
  if (options_.outputs) job.outputs.push_back({std::string(output), std::string(logs)});
}

void Walker::finish(double duration_ms, SysTime at) {
  for (std::size_t j = 0; j < jobs_.size(); ++j) {
    Run& r = jobs_[j].run;
    r.status = run_status(tally_[j].ok, tally_[j].filtered, tally_[j].failed);
    r.duration_ms = duration_ms;
    r.at = format_rfc3339(at + std::chrono::microseconds(j));
  }
}

}  // namespace dm::flow_orchestrator
