#pragma once
// Flow history in schema `orchestrator`: batched writes (unique run_key keeps a redelivered
// uplink's runs single), lookups of already recorded runs, retention, and the REST routes
// GET /api/v1/flows/history, /api/v1/flows/{id}/history, /api/v1/flows/{id}/history/{history_id}.
#include <string>
#include <unordered_set>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/http/router.hpp"
#include "run.hpp"

namespace dm::flow_orchestrator {

// One transaction for the runs and their function executions; runs (and executions) already
// recorded are left as they are.
Result<void> write_runs(db::Pool& db, const std::vector<const Run*>& runs);
// After the commit: dm.function.run.<id> for each execution and dm.flow.completed.<id> for each run.
void announce_runs(bus::Connection& nats, const std::vector<const Run*>& runs);
// Adds to `out` those of `keys` that are recorded already (an out-parameter: g++ 12 warns
// falsely about a Result holding an unordered_set).
Result<void> recorded_runs(db::Pool& db, const std::vector<std::string>& keys, std::unordered_set<std::string>& out);
// The API documents of the runs with these keys, oldest first, as a JSON array.
Result<std::string> runs_document(db::Pool& db, const std::vector<std::string>& keys);
// Deletes runs older than `days`; returns how many.
Result<std::size_t> purge_runs(db::Pool& db, int days);

void add_history_routes(http::Router& router, db::Pool& db);

}  // namespace dm::flow_orchestrator
