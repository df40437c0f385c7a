#pragma once
// The service's handlers: batched executions on dm.fn.exec, and the REST routes served over
// RPC (test runs and the registry's compile check). The runner keeps no history: the flow
// orchestrator records each execution with the flow run it belongs to.
#include <memory>

#include "code_cache.hpp"
#include "dm/bus/bus.hpp"
#include "dm/contract/work.hpp"
#include "dm/http/router.hpp"
#include "dm/json/json.hpp"
#include "pool.hpp"
#include "status.hpp"
#include "test_gate.hpp"

namespace dm::function_runner {

struct RunnerLimits {
  int default_timeout_ms = 100;
  int max_timeout_ms = 5000;
  std::size_t max_code_bytes = 256u << 10;
  std::size_t test_concurrency = 2;  // test runs of one caller in the pool at once
  std::size_t test_queue = 8;        // and waiting behind them; beyond → 429
};

class Runner {
 public:
  Runner(WorkerPool& pool, CodeCache& cache, bus::Connection& reply_conn, StatusReporter* status,
         RunnerLimits limits = {})
      : pool_(pool),
        cache_(cache),
        reply_(reply_conn),
        status_(status),
        limits_(limits),
        gate_(limits.test_concurrency, limits.test_queue) {}

  // dm.fn.exec: answers once every execution of the batch has a result.
  void handle_exec(bus::Message&& request);
  void add_routes(http::Router& router);

 private:
  http::Response compile(const http::Request& req);
  void test_inline(const http::Request& req, http::Reply reply);
  void test_saved(const http::Request& req, http::Reply reply);
  // Runs a test job within the caller's fair share (429 beyond it) and answers `reply`.
  void run_test(const http::Request& req, Job job, bool syntax_errors_are_422, const http::Reply& reply);

  WorkerPool& pool_;
  CodeCache& cache_;
  bus::Connection& reply_;
  StatusReporter* status_;
  RunnerLimits limits_;
  TestGate gate_;
};

// A run's result as the contract says it (function-exec-reply; the REST answer to a test run
// has the same shape without id and version): with "id" and the version that ran when given.
// It points into `r` and `id`.
contract::ExecResultRef exec_result(const RunResult& r, const std::string* id = nullptr, std::int64_t version = 0);

}  // namespace dm::function_runner
