#pragma once
// Flow runs over NATS: the walk (walk.hpp) with functions executed by the runner on
// `dm.fn.exec` and delivery jobs published to DM_DISPATCH. Infrastructure failures (runner
// unreachable, JetStream refusing a job) defer a run: its uplink is handed back for
// redelivery instead of being recorded as a run.
#include <chrono>
#include <vector>

#include "dm/bus/bus.hpp"
#include "walk.hpp"

namespace dm::flow_orchestrator {

struct EngineOptions {
  WalkerOptions walker;                            // its function_timeout_ms is also each request's
  std::chrono::milliseconds request_margin{2000};  // on top of it, for the NATS request
};

// Requests on dm.fn.exec, all in flight at once.
class NatsFunctionCalls final : public FunctionCalls {
 public:
  NatsFunctionCalls(bus::Connection& rpc, std::chrono::milliseconds timeout) : rpc_(rpc), timeout_(timeout) {}
  std::size_t max_payload() const override { return rpc_.max_payload(); }
  std::future<std::vector<Result<RunnerReply>>> send(const std::vector<FunctionRequest>& requests) override;

 private:
  bus::Connection& rpc_;
  std::chrono::milliseconds timeout_;
};

// One DM_DISPATCH message (contract/work.hpp): a level's jobs for one target, in their order,
// as a batch; a job alone when it is the target's only one, a repeat or too large to share.
struct JobMessage {
  std::string target_id;
  std::string body;
  std::string msg_id;             // Nats-Msg-Id: a repeat's job_id, else none
  bus::Headers headers;           // the batch's or the repeat's mark
  std::vector<std::size_t> jobs;  // which of the level's jobs it carries
};
inline constexpr std::size_t kMaxJobsPerMessage = 256;
std::vector<JobMessage> pack_jobs(const std::vector<DeliveryJob>& jobs, std::size_t max_payload);

// Jobs published asynchronously to DM_DISPATCH on dm.work.dispatch.<target_id> (pack_jobs);
// settled when JetStream acknowledged (or refused) the message carrying each.
class NatsJobQueue final : public JobQueue {
 public:
  explicit NatsJobQueue(bus::Connection& js) : js_(js) {}
  std::size_t max_payload() const override { return js_.max_payload(); }
  std::vector<Result<Queued>> queue(const std::vector<DeliveryJob>& jobs) override;

 private:
  bus::Connection& js_;
};

class Engine {
 public:
  Engine(bus::Connection& rpc, bus::Connection& js, EngineOptions options) : rpc_(rpc), js_(js), options_(options) {}
  // Walks every job together, one graph level at a time (walk). Thread-safe: each lane (and
  // each replay) calls it with its own jobs at the same time.
  void run_all(std::vector<RunJob>& jobs);

 private:
  bus::Connection& rpc_;
  bus::Connection& js_;
  EngineOptions options_;
};

}  // namespace dm::flow_orchestrator
