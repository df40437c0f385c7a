#include "engine.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "dm/contract/batch.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/contract/work.hpp"

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

std::vector<JobMessage> pack_jobs(const std::vector<DeliveryJob>& jobs, std::size_t max_payload) {
  std::vector<JobMessage> out;
  auto alone = [&](std::size_t i) {
    const auto& job = jobs[i];
    JobMessage m{job.target_id, job.body, {}, {}, {i}};
    if (job.repeat) {
      m.msg_id = job.job_id;
      m.headers.push_back({contract::kRepeatHeader, "1"});
    }
    out.push_back(std::move(m));
  };
  // The targets in the order of their first job, each with its jobs in order.
  std::vector<std::pair<std::string_view, std::vector<std::size_t>>> targets;
  std::unordered_map<std::string_view, std::size_t> where;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    // A node id may hold a newline (the registry takes any string): such a job would break
    // its batch's framing for the jobs after it.
    if (jobs[i].repeat || !contract::BatchWriter::can_name(jobs[i].job_id)) {
      alone(i);
      continue;
    }
    auto [it, added] = where.try_emplace(jobs[i].target_id, targets.size());
    if (added) targets.push_back({jobs[i].target_id, {}});
    targets[it->second].second.push_back(i);
  }
  contract::BatchWriter writer;
  std::vector<std::size_t> in_writer;
  auto flush = [&](std::string_view target) {
    auto body = writer.take();
    auto carried = std::exchange(in_writer, {});
    if (carried.size() == 1) return alone(carried.front());  // plain JSON, as older dispatchers read
    if (carried.empty()) return;
    bus::Headers headers{{contract::kJobBatchHeader, std::to_string(carried.size())}};
    auto packed = contract::pack_batch(std::move(body), headers);
    out.push_back({std::string(target), std::move(packed), {}, std::move(headers), std::move(carried)});
  };
  for (const auto& [target, indices] : targets) {
    for (auto i : indices) {
      const auto size = contract::BatchWriter::entry_size(jobs[i].job_id, jobs[i].body);
      if (size > max_payload) {  // fits alone (the walker saw to that), not with a name
        alone(i);
        continue;
      }
      if (in_writer.size() == kMaxJobsPerMessage || writer.size() + size > max_payload) flush(target);
      writer.add(jobs[i].job_id, jobs[i].body);
      in_writer.push_back(i);
    }
    flush(target);
  }
  return out;
}

std::vector<Result<Queued>> NatsJobQueue::queue(const std::vector<DeliveryJob>& jobs) {
  auto gather = std::make_shared<Gather<Queued>>(jobs.size());
  auto acks = gather->future();
  for (auto& m : pack_jobs(jobs, js_.max_payload())) {
    auto carried = std::make_shared<std::vector<std::size_t>>(std::move(m.jobs));
    js_.jetstream().publish_async(
        contract::subject::dispatch(m.target_id), m.body, m.msg_id,
        [gather, carried](const Result<bus::PubAck>& r) {
          for (auto i : *carried) gather->put(i, r ? Result<Queued>(Queued::dispatched) : Result<Queued>(r.error()));
        },
        m.headers);
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
