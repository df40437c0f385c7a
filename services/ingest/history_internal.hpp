#pragma once
// GET /internal/v1/devices/{id}/history/{history_id}: one stored event of one device with its
// normalised message, for the flow orchestrator's replay. Served over NATS (dm.rpc.ingest) for
// services; not in the gateway's table.
#include "dm/db/db.hpp"
#include "dm/http/router.hpp"

namespace dm::ingest {

void add_internal_history_routes(http::Router& router, db::Pool& db);

}  // namespace dm::ingest
