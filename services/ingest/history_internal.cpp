#include "history_internal.hpp"

#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "store.hpp"

namespace dm::ingest {

void add_internal_history_routes(http::Router& router, db::Pool& db) {
  router.add_sync("GET", "/internal/v1/devices/{id}/history/{history_id}", [&db](const http::Request& req) {
    const auto& device_id = req.params.at("id");
    const auto& history_id = req.params.at("history_id");
    if (!api::is_uuid(device_id) || !api::is_uuid(history_id))
      return http::Response::error(404, "History entry not found");
    auto entry = history_entry(db, device_id, history_id);
    if (!entry) {
      log::error("history entry query failed", {{"error", entry.error().message}});
      return http::Response::error(503, "History store unavailable");
    }
    if (!*entry) return http::Response::error(404, "History entry not found");
    return http::Response::json(200, std::move(**entry));
  });
}

}  // namespace dm::ingest
