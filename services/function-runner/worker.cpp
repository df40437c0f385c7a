// The worker process: `dm-function-runner --worker <heap_mb> <max_output_bytes>`. Says it is
// ready with an empty frame once V8 is up, then reads job frames on fd 0 and answers on fd 1.
// In the page shared on fd 3 it keeps the 1-based index of the job it is running, and 0
// between jobs and after the last one, so that if V8 aborts the process the supervisor knows
// whether a job was running, and which.
#include "worker.hpp"

#include <sys/mman.h>

#include <atomic>
#include <cstdlib>

#include "dm/core/log.hpp"
#include "engine.hpp"
#include "protocol.hpp"

namespace dm::function_runner {
namespace {

RunResult run_one(Engine& engine, protocol::WireJob& job) {
  switch (job.kind) {
    case protocol::JobKind::compile:
      return engine.compile(job.code);
    case protocol::JobKind::drop: {
      engine.drop(job.key);
      RunResult r;
      r.status = "success";
      return r;
    }
    case protocol::JobKind::run: {
      if (!engine.has(job.key)) {
        if (job.code.empty()) {
          RunResult r;
          r.status = std::string(protocol::kMissing);
          return r;
        }
        auto loaded = engine.load(job.key, job.code);
        if (loaded.has_error) return loaded;
      }
      return engine.run(job.key, job.input, job.params, std::chrono::milliseconds(job.timeout_ms));
    }
  }
  return RunResult::failure("unknown job kind");
}

EngineLimits limits_from(int argc, char** argv) {
  EngineLimits limits;
  if (argc > 2) limits.heap_bytes = static_cast<std::size_t>(std::strtoull(argv[2], nullptr, 10)) << 20;
  if (limits.heap_bytes == 0) limits.heap_bytes = 64u << 20;
  if (argc > 3) {
    auto output = static_cast<std::size_t>(std::strtoull(argv[3], nullptr, 10));
    if (output > 0) limits.caps.output_bytes = output;
  }
  return limits;
}

}  // namespace

int worker_main(int argc, char** argv) {
  log::init("function-runner-worker", log::Level::info);
  void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
  auto* current = page == MAP_FAILED ? nullptr : static_cast<std::atomic<std::uint32_t>*>(page);
  auto mark = [current](std::uint32_t running) {
    if (current) current->store(running, std::memory_order_release);
  };
  mark(0);
  Engine engine(limits_from(argc, argv));
  if (!protocol::write_all(1, protocol::Writer().finish())) return 0;  // ready
  std::vector<protocol::WireJob> jobs;
  std::vector<RunResult> results;
  for (;;) {
    auto frame = protocol::read_frame(0, 512u << 20);
    if (!frame) return 0;  // supervisor gone or closed the pipe
    if (!protocol::decode_jobs(*frame, jobs)) {
      log::error("bad frame from supervisor");
      return 2;
    }
    results.clear();
    results.reserve(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      mark(static_cast<std::uint32_t>(i + 1));
      results.push_back(run_one(engine, jobs[i]));
      mark(0);
    }
    if (!protocol::write_all(1, protocol::encode_results(results))) return 0;
  }
}

}  // namespace dm::function_runner
