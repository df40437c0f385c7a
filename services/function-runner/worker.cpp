// The worker process: `dm-function-runner --worker <heap_mb> <max_output_bytes> [<uid> <gid>]`.
// It sandboxes itself (sandbox.hpp: the user to run as when started by root, no new privileges,
// then the seccomp filter once V8 is up) and says it is ready with an empty frame, or refuses
// with its reason; then it reads job frames on fd 0 and answers on fd 1. In the page the
// supervisor shares on fd 3 (mapped, then the descriptor closed) it keeps the 1-based index of
// the job it is running, and 0 between jobs and after the last one, so that if V8 aborts the
// process the supervisor knows whether a job was running, and which.
#include "worker.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <optional>

#include "dm/core/log.hpp"
#include "engine.hpp"
#include "protocol.hpp"
#include "sandbox.hpp"

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

// The user named on the command line (given when the supervisor is root), if any.
std::optional<WorkerUser> user_from(int argc, char** argv) {
  if (argc <= 5) return std::nullopt;
  return WorkerUser{static_cast<uid_t>(std::strtoul(argv[4], nullptr, 10)),
                    static_cast<gid_t>(std::strtoul(argv[5], nullptr, 10))};
}

// What V8, ICU and glibc read from the system the first time a function uses local time or a
// locale (the time zone: /etc/localtime, opened by glibc and read as a link by ICU) and then
// keep for the life of the process. Run once before the filter, which forbids opening files,
// so that a function formatting a date is not killed for it.
constexpr const char* kWarmUp = R"js(
function warmUp() {
  const d = new Date();
  return [d.toString(), d.getTimezoneOffset(), d.toLocaleString(), (1234.5).toLocaleString(),
          Intl.DateTimeFormat().resolvedOptions().timeZone, new Intl.NumberFormat().format(1),
          'a'.localeCompare('b'), 'ß'.toLocaleUpperCase(), 'e\u0301'.normalize()].length;
}
)js";

void warm_up(Engine& engine) {
  ::tzset();
  const std::string key = "dm:warm-up";
  if (engine.load(key, kWarmUp).has_error) return;
  (void)engine.run(key, "{}", "{}", std::chrono::milliseconds(5000));
  engine.drop(key);
}

int refuse(const Error& why) {
  log::error("worker refuses to run jobs", {{"error", why.message}});
  (void)protocol::write_all(1, protocol::encode_start(why.message));
  return 3;
}

std::atomic<std::uint32_t>* map_shared_page() {
  void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
  ::close(3);  // the mapping is what is needed; the descriptor would be one more thing to hold
  return page == MAP_FAILED ? nullptr : static_cast<std::atomic<std::uint32_t>*>(page);
}

}  // namespace

int worker_main(int argc, char** argv) {
  log::init("function-runner-worker", log::Level::info);
  // Root is given up before anything else runs; a worker that cannot is never given a job.
  const auto user = user_from(argc, argv);
  if (::geteuid() == 0 && !user)
    return refuse(Error(Errc::internal, "cannot sandbox the worker: started as root with no user to run as"));
  if (auto dropped = drop_privileges(user.value_or(WorkerUser{})); !dropped) return refuse(dropped.error());
  auto* current = map_shared_page();
  auto mark = [current](std::uint32_t running) {
    if (current) current->store(running, std::memory_order_release);
  };
  mark(0);
  Engine engine(limits_from(argc, argv));
  warm_up(engine);
  // V8 is up (its threads started, its snapshot read): from here on only what running jobs needs.
  if (auto restricted = restrict_syscalls(); !restricted) return refuse(restricted.error());
  if (!protocol::write_all(1, protocol::encode_start())) return 0;  // ready
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
