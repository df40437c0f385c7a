#include "history_internal.hpp"

#include "dm/api/query.hpp"
#include "dm/core/log.hpp"

namespace dm::ingest {

void add_internal_history_routes(http::Router& router, db::Pool& db) {
  router.add_sync("GET", "/internal/v1/devices/{id}/history/{history_id}", [&db](const http::Request& req) {
    const auto& device_id = req.params.at("id");
    const auto& history_id = req.params.at("history_id");
    if (!api::is_uuid(device_id) || !api::is_uuid(history_id))
      return http::Response::error(404, "History entry not found");
    // {id, event_type, dev_eui, device_id, dedup_id, event}: `event` is the normalised message.
    auto rows = db.exec(
        "SELECT json_build_object('id', id, 'event_type', event_type, 'dev_eui', dev_eui, 'device_id', device_id, "
        "'dedup_id', dedup_id, 'event', event)::text FROM device_events WHERE id = $1::uuid AND device_id = $2::uuid",
        {history_id, device_id});
    if (!rows) {
      log::error("history entry query failed", {{"error", rows.error().message}});
      return http::Response::error(503, "History store unavailable");
    }
    if (rows->empty()) return http::Response::error(404, "History entry not found");
    return http::Response::json(200, std::string(rows->get(0, 0)));
  });
}

}  // namespace dm::ingest
