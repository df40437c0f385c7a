#pragma once
// The supervisor side: N worker processes (worker_process.hpp), each fed by one thread that
// sends the jobs queued for it as one frame and waits for the answers.
//
// Infrastructure failures are never the function's fault:
// - A worker that dies or hangs is replaced at once. The jobs of its frame whose results were
//   lost with it, and those it had not started, run again.
// - The job it was running (the worker says which in a shared page; none between jobs) is only
//   a suspect: it runs once more, alone, on the fresh worker. Only if it kills or hangs that
//   worker too is it answered "crashed its worker" and counted as a strike against its
//   function; `quarantine_strikes` strikes within the window quarantine that function (and only
//   it). A worker killed from outside (SIGKILL/SIGTERM the pool did not send) suspects nobody.
// - A job the pool cannot run for reasons that are not the function's — no worker can be
//   started, its frames were lost `max_attempts` times, the pool is shutting down with it still
//   queued — is answered with status `unavailable` (retry later).
//
// Test runs (Job::test) are a lower-priority lane: a worker takes one only when it has nothing
// else queued, so flow work never waits behind a test run in a queue. Once a test run has waited
// 2 s, the next worker to finish a frame takes it if no other test run is in a worker, so a
// backlog of flow work cannot starve test runs either.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dm/core/result.hpp"
#include "protocol.hpp"
#include "run_result.hpp"

namespace dm::function_runner {

struct PoolOptions {
  std::string binary;  // executable started with `--worker <heap_mb> <max_output_bytes>`
  int workers = 2;
  std::size_t heap_mb = 64;                   // V8 heap limit per worker
  std::size_t memory_mb = 1024;               // RLIMIT_DATA per worker (0 = none)
  std::size_t max_output_bytes = 256u << 10;  // JSON of a run's output; over it the run is an error
  std::size_t max_batch = 512;                // jobs per frame
  int quarantine_strikes = 3;                 // proven crashes within the window that quarantine a function
  std::chrono::seconds quarantine_window{60};
  std::chrono::seconds quarantine_for{60};
  int max_attempts = 5;                            // frames a job may lose before it is answered unavailable
  std::chrono::milliseconds drain_timeout{10000};  // on shutdown, queued jobs still run this long
  // Who the workers run as when the runner runs as root (sandbox.hpp: a name, "uid" or
  // "uid:gid"); ignored otherwise (they keep the runner's own, unprivileged, user).
  std::string worker_user = "nobody";
};

struct Job {
  protocol::WireJob wire;                   // wire.code is filled by the pool when needed
  std::shared_ptr<const std::string> code;  // source for run jobs
  std::string function_id;                  // quarantine key; empty = never quarantined
  bool test = false;                        // a test run (lower priority, one worker at a time)
  std::function<void(RunResult)> done;      // called once, from a pool thread
  int lost = 0;                             // frames lost under it so far (kept by the pool)
};

class WorkerPool {
 public:
  static Result<std::unique_ptr<WorkerPool>> start(PoolOptions options);
  // Runs what is queued for at most drain_timeout, answers the rest `unavailable`.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(Job job);
  // Blocking convenience for tests and the benchmark.
  RunResult run(Job job);

  struct Stats {
    std::uint64_t crashes = 0;      // workers that died or hung
    std::uint64_t restarts = 0;     // workers started again
    std::uint64_t executed = 0;     // results from workers
    std::uint64_t suspects = 0;     // jobs run again alone after a worker died running them
    std::uint64_t proven = 0;       // suspects that killed their fresh worker too (strikes)
    std::uint64_t reruns = 0;       // other jobs run again after their worker died
    std::uint64_t unavailable = 0;  // jobs answered `unavailable`
  };
  Stats stats() const;
  // Pids of the live workers (tests kill them); -1 for a slot without one.
  std::vector<int> pids() const;
  bool quarantined(const std::string& function_id) const;

 private:
  struct Impl;
  explicit WorkerPool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::function_runner
