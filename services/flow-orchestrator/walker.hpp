#pragma once
// The flow walk, without I/O. Given the jobs (an uplink, a flow, the trigger it entered by), a
// Walker plans one graph level at a time: the function executions to ask the runner for,
// batched into requests under the payload limit, and the delivery jobs to queue. It then
// applies the answers (function results, delivery acks, or the errors standing in for answers
// that never came) and so decides the next level. When no level is left, each run has its
// status, path and function executions. Who carries the requests and jobs is walk.hpp's
// business; times are given to it, never read.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dm/core/result.hpp"
#include "dm/core/time.hpp"
#include "run.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {

struct WalkerOptions {
  int function_timeout_ms = 1000;  // timeout_ms of each execution
  std::size_t max_depth = 64;      // nodes along a path, the trigger being 1 (the registry's limit)
  std::size_t exec_batch = 64;     // executions per runner request
  // Keep what each step produced (RunJob::outputs): a simulation shows it.
  bool outputs = false;
  // A level's steps in the order of its nodes, as a simulation (which ran one node after
  // another) shows them. Otherwise in the order the level's answers are applied: nodes that
  // fail while planning, then deliveries, then functions, as recorded runs always had them.
  bool node_order = false;
};

// What one step produced, for a simulation's answer.
struct StepOutput {
  std::string output = "null";  // JSON: the message the step passed on (a function's result,
                                // what a delivery got or would have got), else null
  std::string logs = "[]";      // JSON array: a function's console output
};

// One flow run to walk: the uplink, the flow and the trigger node it entered by.
struct RunJob {
  const Uplink* uplink = nullptr;
  std::shared_ptr<const Flow> flow;
  std::size_t trigger = 0;
  std::string key;        // the run key; empty = run_key(flow, dedup id) (a replay brings its own)
  bool replay = false;    // recorded, and passed to the runner, as a replay
  bool repeat = false;    // its uplink came again (redelivered): its jobs may be queued already
  Run run;                // filled by the walk
  bool deferred = false;  // the runner or JetStream was unavailable: nothing recorded, retry later
  std::string deferred_reason;
  std::vector<StepOutput> outputs;  // with WalkerOptions::outputs: one per step of run.path
};

// One function execution in a request.
struct Execution {
  std::size_t job = 0;                 // the RunJob it belongs to
  const Node* node = nullptr;          // the function node (entity_id, parameters)
  const std::string* input = nullptr;  // the message it gets
};

// One dm.fn.exec request: {"executions":[...]}, under the payload limit, and what it carries.
// The pointers stay valid until the walker applies the level's answers.
struct FunctionRequest {
  std::string body;
  std::vector<Execution> executions;
};

// The runner's answer to one request: its Dm-Status (none = 200) and body ({"results":[...]}).
struct RunnerReply {
  std::optional<std::string> status;
  std::string body;
};

// A delivery job (proto/schemas/delivery-job) for DM_DISPATCH.
struct DeliveryJob {
  std::string target_id;  // the integration or storage: the subject is dm.work.dispatch.<target_id>
  std::string job_id;     // "<run key>:<node id>": its de-duplication id (Nats-Msg-Id)
  std::string body;
  bool repeat = false;  // its run's uplink came again: queued alone, de-duplicated on job_id
};

enum class Queued {
  dispatched,  // durably queued: the dispatcher delivers it
  skipped,     // not sent (a simulation): the step shows what would have been
};

struct LevelPlan {
  std::vector<FunctionRequest> requests;
  std::vector<DeliveryJob> jobs;  // in job order, so one device's jobs are queued in arrival order
};

// A level's answers, in the plan's order. An error stands for an answer that never came (no
// runner, no responders in time, no ack): not the flow's fault, so its run is deferred.
struct LevelReplies {
  std::vector<Result<RunnerReply>> replies;  // one per request
  std::vector<Result<Queued>> acks;          // one per job
  double delivery_ms = 0;                    // recorded on the dispatched steps
};

// The largest messages the bus takes: a request goes on the core connection, a job to JetStream.
struct PayloadLimits {
  std::size_t request = 1u << 20;
  std::size_t job = 1u << 20;
};

class Walker {
 public:
  // Starts every run at its trigger node. `jobs` outlives the walker.
  Walker(std::vector<RunJob>& jobs, WalkerOptions options);
  ~Walker();
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;

  bool done() const;  // no level left: finish
  // The next level's requests and jobs (`now` dates the jobs). Nodes that cannot run fail here:
  // past the depth limit, of a type that cannot follow an edge, too large to send.
  LevelPlan plan(const PayloadLimits& limits, SysTime now);
  // The answers to the last plan; the nodes after those that went on form the next level.
  void apply(const LevelReplies& replies);
  // Each run's status and duration; `at` is the first run's time, the others follow a
  // microsecond apart in job order, so history sorted by time keeps a device's arrival order.
  void finish(double duration_ms, SysTime at);

 private:
  struct Item;
  struct Tally {
    int ok = 0, filtered = 0, failed = 0;  // branch endings (run_status)
  };
  void start(std::size_t job);
  void classify(std::vector<std::size_t>& functions, LevelPlan& plan, const PayloadLimits& limits, SysTime now);
  void add_job(LevelPlan& plan, std::size_t item, std::size_t max_payload, SysTime now);
  std::vector<FunctionRequest> batch(const std::vector<std::size_t>& functions, std::size_t max_payload);
  void apply_ack(Item& item, const Result<Queued>& ack, double delivery_ms);
  void apply_reply(const std::vector<std::size_t>& items, const Result<RunnerReply>& reply);
  void apply_result(Item& item, const json::Value& result);
  void settle(Item& item);
  void record(RunJob& job, Step step, std::string_view output, std::string_view logs);

  std::vector<RunJob>& jobs_;
  WalkerOptions options_;
  std::vector<Tally> tally_;
  std::vector<Item> level_;                         // the nodes to run next
  std::vector<Item> items_;                         // the planned level, until its answers are applied
  std::vector<std::vector<std::size_t>> requests_;  // items_ of each planned request
  std::vector<std::size_t> queued_;                 // items_ of each planned job
};

}  // namespace dm::flow_orchestrator
