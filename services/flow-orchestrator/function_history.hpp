#pragma once
// Function history: the function executions of flow runs, recorded by the orchestrator in the
// same transaction as the runs (history.cpp's write_runs), announced on dm.function.run.<id>
// after the commit, and served by GET /api/v1/functions/history and /functions/{id}/history.
// The runner only executes: a kill -9 of the runner cannot lose a run it answered, since
// nothing is acked before the orchestrator stored it.
#include <string>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/http/router.hpp"
#include "run.hpp"

namespace dm::flow_orchestrator {

// The columns of function_runs, and one row per execution of `runs`.
const std::vector<std::string>& function_run_columns();
std::vector<db::Params> function_run_rows(const std::vector<const Run*>& runs);

// proto/schemas/function-run.schema.json for one execution of `run`.
std::string function_run_json(const Run& run, const FunctionRun& fr);

// Deletes function runs older than `days`; returns how many.
Result<std::size_t> purge_function_runs(db::Pool& db, int days);

void add_function_history_routes(http::Router& router, db::Pool& db);

}  // namespace dm::flow_orchestrator
