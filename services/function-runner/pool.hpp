#pragma once
// The supervisor side: N worker processes, each fed by one thread that sends the jobs queued
// for it as one frame and waits for the answers. A worker that dies (V8 abort, rlimit, kill)
// or hangs past the frame's deadline is replaced at once; the job it was running is answered
// with an error and counts a strike against its function; the other jobs of the frame are run
// again on the new worker. A function with too many strikes is quarantined for a while — only
// that function.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dm/core/result.hpp"
#include "protocol.hpp"
#include "run_result.hpp"

namespace dm::function_runner {

struct PoolOptions {
  std::string binary;  // executable started with `--worker <heap_mb>`
  int workers = 2;
  std::size_t heap_mb = 64;      // V8 heap limit per worker
  std::size_t memory_mb = 1024;  // RLIMIT_DATA per worker (0 = none)
  std::size_t max_batch = 512;   // jobs per frame
  int quarantine_strikes = 3;    // crashes within the window that quarantine a function
  std::chrono::seconds quarantine_window{60};
  std::chrono::seconds quarantine_for{60};
};

struct Job {
  protocol::WireJob wire;                   // wire.code is filled by the pool when needed
  std::shared_ptr<const std::string> code;  // source for run jobs
  std::string function_id;                  // quarantine key; empty = never quarantined
  std::function<void(RunResult)> done;      // called once, from a pool thread
};

class WorkerPool {
 public:
  static Result<std::unique_ptr<WorkerPool>> start(PoolOptions options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(Job job);
  // Blocking convenience for routes and tests.
  RunResult run(Job job);

  struct Stats {
    std::uint64_t crashes = 0;
    std::uint64_t restarts = 0;
    std::uint64_t executed = 0;
  };
  Stats stats() const;
  // Pids of the live workers (tests kill them).
  std::vector<int> pids() const;
  bool quarantined(const std::string& function_id) const;

 private:
  struct Impl;
  explicit WorkerPool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::function_runner
