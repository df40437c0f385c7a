// The worker process: `dm-function-runner --worker <heap_mb>`. Reads job frames on fd 0,
// answers on fd 1, and before each job writes its 1-based index into the page shared on
// fd 3, so the supervisor knows which job was running if V8 aborts the process.
#include "worker.hpp"

#include <sys/mman.h>

#include <atomic>
#include <cstdlib>

#include "dm/core/log.hpp"
#include "engine.hpp"
#include "protocol.hpp"

namespace dm::function_runner {

int worker_main(int argc, char** argv) {
  log::init("function-runner-worker", log::Level::info);
  EngineLimits limits;
  if (argc > 2) limits.heap_bytes = static_cast<std::size_t>(std::strtoull(argv[2], nullptr, 10)) << 20;
  if (limits.heap_bytes == 0) limits.heap_bytes = 64u << 20;
  void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
  auto* current = page == MAP_FAILED ? nullptr : static_cast<std::atomic<std::uint32_t>*>(page);
  Engine engine(limits);
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
      auto& job = jobs[i];
      if (current) current->store(static_cast<std::uint32_t>(i + 1), std::memory_order_relaxed);
      switch (job.kind) {
        case protocol::JobKind::compile:
          results.push_back(engine.compile(job.code));
          break;
        case protocol::JobKind::drop: {
          engine.drop(job.key);
          RunResult r;
          r.status = "success";
          results.push_back(std::move(r));
          break;
        }
        case protocol::JobKind::run: {
          if (!engine.has(job.key)) {
            if (job.code.empty()) {
              RunResult r;
              r.status = std::string(protocol::kMissing);
              results.push_back(std::move(r));
              break;
            }
            auto loaded = engine.load(job.key, job.code);
            if (loaded.has_error) {
              results.push_back(std::move(loaded));
              break;
            }
          }
          results.push_back(engine.run(job.key, job.input, job.params, std::chrono::milliseconds(job.timeout_ms)));
          break;
        }
        default:
          results.push_back(RunResult::failure("unknown job kind"));
      }
    }
    if (!protocol::write_all(1, protocol::encode_results(results))) return 0;
  }
}

}  // namespace dm::function_runner
