#pragma once
// The bus a walk uses, and the walk itself. A Walker (walker.hpp) decides; these carry its
// requests and jobs. The service implements them over NATS (engine.hpp); a simulation runs
// functions through the runner's test route and sends no job (simulate.cpp); unit tests use
// fakes.
#include <cstddef>
#include <future>
#include <vector>

#include "dm/core/result.hpp"
#include "walker.hpp"

namespace dm::flow_orchestrator {

// Function executions, a request at a time.
class FunctionCalls {
 public:
  virtual ~FunctionCalls() = default;
  virtual std::size_t max_payload() const = 0;  // the largest request it can send
  // Sends every request of a level at once; the future holds one answer per request, in
  // order, or the error that stood in for it (no runner, no answer in time).
  virtual std::future<std::vector<Result<RunnerReply>>> send(const std::vector<FunctionRequest>& requests) = 0;
};

// Delivery jobs.
class JobQueue {
 public:
  virtual ~JobQueue() = default;
  virtual std::size_t max_payload() const = 0;  // the largest job it takes
  // Queues the jobs in their order and returns, once every one is settled, one result each.
  virtual std::vector<Result<Queued>> queue(const std::vector<DeliveryJob>& jobs) = 0;
};

// Walks the jobs to their end, one level at a time: a level's requests are in flight while
// its jobs are queued, and its answers decide the next. Times (the dispatched steps', each
// run's duration and time) are read here, so the Walker needs no clock.
void walk(std::vector<RunJob>& jobs, const WalkerOptions& options, FunctionCalls& calls, JobQueue& queue);

}  // namespace dm::flow_orchestrator
