#pragma once
// A fair share of test runs (POST /api/v1/functions/test and /functions/{id}/test) per caller:
// at most `concurrency` of a caller's runs are in the pool at once and `queue` more wait here;
// beyond that the caller is told to come back later (429). The pool runs test jobs in a lane
// of their own (pool.hpp), so test runs never take the workers from flow executions.
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace dm::function_runner {

class TestGate {
 public:
  // Called exactly once when an admitted run has been answered.
  using Finished = std::function<void()>;
  using Start = std::function<void(Finished)>;

  TestGate(std::size_t concurrency, std::size_t queue) : concurrency_(concurrency), queue_(queue) {}

  // Calls `start` now, or later from the thread that finishes one of the caller's runs. False
  // (and `start` is dropped) when the caller already has concurrency + queue runs.
  bool admit(const std::string& caller, Start start);

  std::size_t concurrency() const { return concurrency_; }
  std::size_t queue() const { return queue_; }

 private:
  struct Bucket {
    std::size_t running = 0;
    std::deque<Start> waiting;
  };
  Finished finisher(const std::string& caller);
  void finish(const std::string& caller);

  std::size_t concurrency_, queue_;
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;  // callers with runs in flight only
};

}  // namespace dm::function_runner
