#include "engine.hpp"

#include <memory>
#include <mutex>
#include <optional>

#include "dm/contract/subjects.hpp"

namespace dm::flow_orchestrator {
namespace {

// Gathers `n` results that arrive in any order on library threads into one future, in order.
// Shared with the callbacks, so it outlives whichever finishes last.
template <typename T>
class Gather {
 public:
  explicit Gather(std::size_t n) : got_(n), left_(n) {
    if (n == 0) done_.set_value({});
  }
  std::future<std::vector<Result<T>>> future() { return done_.get_future(); }
  void put(std::size_t i, Result<T> result) {
    std::unique_lock lock(mu_);
    got_[i] = std::move(result);
    if (--left_ > 0) return;
    std::vector<Result<T>> all;
    all.reserve(got_.size());
    for (auto& r : got_) all.push_back(std::move(*r));
    lock.unlock();
    done_.set_value(std::move(all));
  }

 private:
  std::mutex mu_;
  std::vector<std::optional<Result<T>>> got_;
  std::size_t left_;
  std::promise<std::vector<Result<T>>> done_;
};

}  // namespace

std::future<std::vector<Result<RunnerReply>>> NatsFunctionCalls::send(const std::vector<FunctionRequest>& requests) {
  auto gather = std::make_shared<Gather<RunnerReply>>(requests.size());
  auto answers = gather->future();
  for (std::size_t c = 0; c < requests.size(); ++c) {
    rpc_.request_async(contract::subject::kFunctionExec, requests[c].body, timeout_,
                       [gather, c](Result<bus::Message> r) {
                         if (!r) return gather->put(c, r.take_error());
                         auto status = r->header("Dm-Status");
                         gather->put(c, RunnerReply{std::move(status), std::move(r->data)});
                       },
                       {{"Content-Type", "application/json"}});
  }
  return answers;
}

std::vector<Result<Queued>> NatsJobQueue::queue(const std::vector<DeliveryJob>& jobs) {
  auto gather = std::make_shared<Gather<Queued>>(jobs.size());
  auto acks = gather->future();
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    js_.jetstream().publish_async(contract::subject::dispatch(jobs[i].target_id), jobs[i].body, jobs[i].job_id,
                                  [gather, i](Result<bus::PubAck> r) {
                                    if (!r) return gather->put(i, r.take_error());
                                    gather->put(i, Queued::dispatched);
                                  });
  }
  return acks.get();
}

void Engine::run_all(std::vector<RunJob>& jobs) {
  NatsFunctionCalls calls(rpc_,
                          std::chrono::milliseconds(options_.walker.function_timeout_ms) + options_.request_margin);
  NatsJobQueue queue(js_);
  walk(jobs, options_.walker, calls, queue);
}

}  // namespace dm::flow_orchestrator
