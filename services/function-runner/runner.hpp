#pragma once
// The service's handlers: batched executions on dm.fn.exec, and the REST routes served over
// RPC (test runs, history, and the registry's compile check).
#include <memory>

#include "code_cache.hpp"
#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/http/router.hpp"
#include "dm/json/json.hpp"
#include "history.hpp"
#include "pool.hpp"

namespace dm::function_runner {

struct RunnerLimits {
  int default_timeout_ms = 100;
  int max_timeout_ms = 5000;
  std::size_t max_code_bytes = 256u << 10;
};

class Runner {
 public:
  Runner(WorkerPool& pool, CodeCache& cache, bus::Connection& reply_conn, HistoryWriter* history,
         StatusReporter* status, RunnerLimits limits = {})
      : pool_(pool), cache_(cache), reply_(reply_conn), history_(history), status_(status), limits_(limits) {}

  // dm.fn.exec: answers once every execution of the batch has a result.
  void handle_exec(bus::Message&& request);
  void add_routes(http::Router& router, db::Pool& db);

 private:
  http::Response compile(const http::Request& req);
  http::Response test_inline(const http::Request& req);
  http::Response test_saved(const http::Request& req);

  WorkerPool& pool_;
  CodeCache& cache_;
  bus::Connection& reply_;
  HistoryWriter* history_;
  StatusReporter* status_;
  RunnerLimits limits_;
};

// {"status","output","logs","error","duration_ms"} (with "id" first when given).
void write_result(json::Writer& w, const RunResult& r, const std::string* id = nullptr);

}  // namespace dm::function_runner
