#include "walk.hpp"

#include <chrono>

namespace dm::flow_orchestrator {

void walk(std::vector<RunJob>& jobs, const WalkerOptions& options, FunctionCalls& calls, JobQueue& queue) {
  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  };
  const auto started = Clock::now();
  Walker walker(jobs, options);
  while (!walker.done()) {
    LevelPlan plan = walker.plan({.request = calls.max_payload(), .job = queue.max_payload()}, now());
    auto answers = calls.send(plan.requests);
    const auto queued = Clock::now();
    LevelReplies replies;
    replies.acks = queue.queue(plan.jobs);
    replies.replies = answers.get();
    // A dispatched step takes until its level's jobs are acked and its functions answered.
    replies.delivery_ms = ms_since(queued);
    walker.apply(replies);
  }
  walker.finish(ms_since(started), now());
}

}  // namespace dm::flow_orchestrator
