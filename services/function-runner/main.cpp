// dm-function-runner: wiring only. See README.md beside this file for what the service owns.
// With `--worker` the same binary is a sandbox worker process (see worker.cpp).
#include <unistd.h>

#include <array>
#include <climits>
#include <cstring>
#include <thread>

#include "code_cache.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/service/rpc.hpp"
#include "dm/service/runtime.hpp"
#include "pool.hpp"
#include "runner.hpp"
#include "sandbox.hpp"
#include "status.hpp"
#include "worker.hpp"

namespace dm::function_runner {

// REST requests (test runs, compile) handled at once; each waits for the pool, not a database.
constexpr std::size_t kRpcConcurrency = 4;

std::string self_path() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

struct RunnerConfig {
  PoolOptions pool;
  RunnerLimits limits;
};

RunnerConfig read_config(Config& c) {
  RunnerConfig rc;
  auto& pool_options = rc.pool;
  auto cores = static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  pool_options.workers = static_cast<int>(c.integer("WORKERS", cores, 1, 64));
  pool_options.heap_mb = static_cast<std::size_t>(c.integer("HEAP_MB", 64, 8, 4096));
  pool_options.memory_mb = static_cast<std::size_t>(c.integer("WORKER_MEMORY_MB", 1024, 0, 65536));
  pool_options.max_output_bytes =
      static_cast<std::size_t>(c.integer("MAX_OUTPUT_BYTES", 256 * 1024LL, 1024, 1024 * 1024LL));
  pool_options.quarantine_strikes = static_cast<int>(c.integer("QUARANTINE_STRIKES", 3, 1, 1000));
  pool_options.quarantine_for = std::chrono::seconds(c.integer("QUARANTINE_SECONDS", 60, 1, 86400));
  pool_options.worker_user = c.str("WORKER_USER", "nobody");
  if (::geteuid() == 0) {  // only then do workers switch user: check the name now, not at the first start
    if (auto user = resolve_worker_user(pool_options.worker_user); !user) c.add_problem(user.error().message);
  }
  rc.limits.default_timeout_ms = static_cast<int>(c.integer("DEFAULT_TIMEOUT_MS", 100, 1, 5000));
  rc.limits.test_concurrency = static_cast<std::size_t>(c.integer("TEST_CONCURRENCY", 2, 1, 64));
  rc.limits.test_queue = static_cast<std::size_t>(c.integer("TEST_QUEUE", 8, 0, 1000));
  return rc;
}

// Pool figures for /metrics, refreshed when scraped. The pool counts since it started; the
// counters advance by what it counted since the last scrape. `pool` may be gone (shut down).
void add_pool_metrics(metrics::Registry& m, const std::unique_ptr<WorkerPool>& pool, int worker_count) {
  auto& executed = m.counter("dm_function_executions_total", "Executions answered by workers");
  auto& crashes = m.counter("dm_function_worker_crashes_total", "Worker processes that died or hung");
  auto& proven = m.counter("dm_function_proven_crashes_total",
                           "Runs that crashed a fresh worker alone (strikes against their function)");
  auto& unavailable = m.counter("dm_function_unavailable_total",
                                "Runs answered 'unavailable' (not run for reasons not the function's)");
  auto& workers = m.gauge("dm_function_workers", "Worker processes");
  m.on_collect([&, held = &pool, worker_count, seen = std::make_shared<std::array<std::uint64_t, 4>>()] {
    if (!*held) return;
    auto st = (*held)->stats();
    const std::uint64_t now[4] = {st.executed, st.crashes, st.proven, st.unavailable};
    metrics::Counter* cs[4] = {&executed, &crashes, &proven, &unavailable};
    for (int i = 0; i < 4; ++i) {
      if (now[i] > (*seen)[i]) cs[i]->inc(now[i] - (*seen)[i]);
      (*seen)[i] = now[i];
    }
    workers.set(worker_count);
  });
}

}  // namespace dm::function_runner

int main(int argc, char** argv) {
  using namespace dm;
  using namespace dm::function_runner;
  if (argc > 1 && std::strcmp(argv[1], kWorkerFlag) == 0) return worker_main(argc, argv);
  service::Runtime runtime({
      .name = "function-runner",
      .scope = "RUNNER",
      .default_port = 8004,
      .public_api = false,
      // Function runs are recorded by the orchestrator with their flow runs: the runner keeps
      // nothing, so it holds no database credentials.
      .database = false,
  });
  RunnerConfig cfg;
  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<CodeCache> cache;
  std::unique_ptr<StatusReporter> status;
  std::unique_ptr<Runner> runner;
  std::unique_ptr<bus::Subscription> changes, exec;
  std::unique_ptr<service::RpcServer> rpc;
  return runtime.main(
      [&](Config& c) { cfg = read_config(c); },
      [&](service::Runtime& rt) -> Result<void> {
        cfg.pool.binary = self_path();
        DM_ASSIGN_OR_RETURN(pool, WorkerPool::start(cfg.pool));
        cache = std::make_unique<CodeCache>(rt.rpc());
        status = std::make_unique<StatusReporter>(rt.rpc());
        runner = std::make_unique<Runner>(*pool, *cache, rt.rpc(), status.get(), cfg.limits);
        DM_ASSIGN_OR_RETURN(changes, cache->follow_changes(rt.nats()));
        DM_ASSIGN_OR_RETURN(exec, rt.rpc().subscribe(contract::subject::kFunctionExec, contract::kRunner,
                                                     [&](bus::Message&& m) { runner->handle_exec(std::move(m)); }));
        auto api = std::make_shared<http::Router>();
        runner->add_routes(*api);
        DM_ASSIGN_OR_RETURN(rpc, service::serve_rpc(rt, api, kRpcConcurrency));
        rt.on_shutdown([&] {
          rpc->stop();
          // Executions already received are run and answered before the pool goes.
          if (exec) (void)exec->drain();
          exec.reset();
          changes.reset();
          pool.reset();  // answers what it still holds
          status.reset();
        });
        add_pool_metrics(rt.metrics(), pool, cfg.pool.workers);
        log::info("function runner ready", {{"workers", cfg.pool.workers}, {"heap_mb", cfg.pool.heap_mb}});
        return ok();
      });
}
