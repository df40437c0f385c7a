#pragma once
// POST /api/v1/devices/{id}/history/{history_id}/replay: a stored uplink (asked from ingest,
// which owns device history) runs again through the device's CURRENT flows, as new runs marked
// `replay`. Each run gets its own key `<flow_id>:replay:<dedup_id>:<replay_id>` (a fresh random
// replay id per request), so it is not taken for the original run, and its delivery jobs get new
// job ids (the dispatcher delivers them again). Synchronous: answers 200 with the recorded runs.
#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/http/router.hpp"
#include "engine.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {

// `<flow_id>:replay:<dedup_id>:<replay_id>`.
std::string replay_key(const std::string& flow_id, const std::string& dedup_id, const std::string& replay_id);
// 32 random hexadecimal digits.
std::string new_replay_id();

void add_replay_route(http::Router& router, bus::Connection& rpc, bus::Connection& nats, db::Pool& db, const View& view,
                      Engine& engine);

}  // namespace dm::flow_orchestrator
