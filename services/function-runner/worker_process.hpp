#pragma once
// One sandbox worker process as the supervisor sees it: started with its rlimits, an empty
// environment, a pipe each way, /dev/null as stderr and a page shared with it (nothing else is
// inherited), in which the worker keeps the index of the job it is running (0 between jobs).
// The worker sandboxes itself (sandbox.hpp) before it says it is ready. When the worker is
// gone, end() says how it went, which is what decides whether the job it was running is
// suspected of it.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dm/core/result.hpp"
#include "sandbox.hpp"

namespace dm::function_runner {

struct WorkerSpec {
  std::string binary;  // executable started with `--worker <heap_mb> <max_output_bytes>`
  std::size_t heap_mb = 64;
  std::size_t memory_mb = 1024;  // RLIMIT_DATA (0 = none)
  std::size_t max_output_bytes = 256u << 10;
  std::chrono::milliseconds start_timeout{10000};  // until the worker says it is ready
  std::optional<WorkerUser> user;                  // who the worker becomes when the supervisor runs as root
};

// How a worker ended, as far as blame goes.
enum class Ending {
  crashed,  // died by itself (V8 aborted under the rlimit, a fault, an exit) or sent nonsense
  hung,     // did not answer in time, so the supervisor killed it
  killed,   // SIGKILL or SIGTERM the supervisor did not send: an operator, the OOM killer, a test
};
const char* ending_name(Ending e);

class WorkerProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts the worker and waits until it says it is ready (V8 is up); a worker that cannot
  // start (fork, exec, V8 set-up) is an error here, never a crash blamed on a job later.
  static Result<std::unique_ptr<WorkerProcess>> start(const WorkerSpec& spec);
  ~WorkerProcess();  // kills and reaps it if end() was not called
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return pid_; }
  Result<void> send(std::string_view frame);
  // The next frame from the worker; timeout when none came by `deadline`.
  Result<std::string> receive(Clock::time_point deadline, std::size_t max_bytes);
  // 1-based index of the job the worker is running in the last frame sent; 0 = none.
  std::uint32_t running() const;
  // Makes sure the worker is gone (killing it when it is still there) and says how it ended;
  // `gave_up` = the supervisor stopped waiting for its answer (a hang).
  Ending end(bool gave_up);
  // After end(): its wait status in words ("killed by SIGSYS", "exit status 3"), for logs.
  const std::string& exit_text() const { return exit_text_; }

 private:
  WorkerProcess() = default;
  pid_t pid_ = -1;
  int to_fd_ = -1;
  int from_fd_ = -1;
  std::atomic<std::uint32_t>* page_ = nullptr;
  bool reaped_ = false;
  std::string exit_text_;
};

}  // namespace dm::function_runner
