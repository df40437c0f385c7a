// Internal device routes, served over NATS only (never through the gateway): the compact
// view that ingest and the orchestrator cache, and the batched state updates ingest sends
// (last seen, battery, online/offline) so the registry stays the owner of device rows.
#include "common.hpp"
#include "dm/core/strings.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/core/time.hpp"

namespace dm::registry {
namespace {

const std::vector<std::string> kStates = {"never_seen", "online", "offline"};

}  // namespace

void add_internal_device_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/internal/v1/devices", [&ctx](const http::Request&) {
    auto rows = ctx.db.exec("SELECT doc FROM device_cache_docs ORDER BY dev_eui");
    if (!rows) return store_error(rows.error());
    return http::Response::json(200, json_array(*rows));
  });

  router.add_sync("GET", "/internal/v1/devices/{id}", [&ctx](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (!api::is_uuid(id)) return not_found("Device");
    auto rows = ctx.db.exec("SELECT doc FROM device_cache_docs WHERE id = $1::uuid", {id});
    if (!rows) return store_error(rows.error());
    if (rows->empty()) return not_found("Device");
    return http::Response::json(200, std::string(rows->get(0, 0)));
  });

  router.add_sync("GET", "/internal/v1/devices/by-eui/{dev_eui}", [&ctx](const http::Request& req) {
    std::string eui = req.params.at("dev_eui");
    eui = lower(eui);
    auto rows = ctx.db.exec("SELECT doc FROM device_cache_docs WHERE dev_eui = $1", {eui});
    if (!rows) return store_error(rows.error());
    if (rows->empty()) return not_found("Device");
    return http::Response::json(200, std::string(rows->get(0, 0)));
  });

  // Body: {"devices": [{"id", "last_seen_at", "status"?, "battery_level"?}, ...]}.
  // last_seen_at only moves forward; a device in maintenance keeps that status; only a
  // status change bumps the version and publishes a change event.
  router.add_sync("POST", "/internal/v1/devices/state", [&ctx](const http::Request& req) {
    auto body = api::parse_body(req, 8 << 20);
    if (body.error) return *body.error;
    const auto* list = json::find(body.doc, "devices");
    if (!list || !list->IsArray()) return api::validation_error({"body", "devices"}, "Field required", "missing");
    struct Change {
      std::string id;
      std::int64_t version;
    };
    std::vector<Change> changed;
    std::int64_t updated = 0;
    auto res = in_transaction(ctx.db, [&](db::Session& s) -> Result<http::Response> {
      for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
        api::BodyReader r((*list)[i], {"body", "devices", std::to_string(i)});
        auto id = r.string("id", {.required = true});
        auto seen = r.string("last_seen_at");
        auto status = r.choice("status", kStates);
        auto battery = r.number("battery_level", {.min = 0, .max = 100, .nullable = true});
        if (id && !api::is_uuid(*id)) r.add_error("id", "Input should be a valid UUID", "uuid_parsing");
        if (seen && !parse_rfc3339(*seen))
          r.add_error("last_seen_at", "Input should be a valid datetime", "datetime_parsing");
        if (!r.ok()) return r.response();
        DM_ASSIGN_OR_RETURN(
            auto rows,
            s.exec("WITH old AS (SELECT status FROM devices WHERE id = $1::uuid FOR UPDATE) "
                   "UPDATE devices d SET "
                   " last_seen_at = GREATEST(d.last_seen_at, $2::timestamptz),"
                   " battery_level = COALESCE($4::double precision, d.battery_level),"
                   " status = CASE WHEN $3::text IS NULL OR d.status = 'maintenance' THEN d.status ELSE $3 END,"
                   " version = d.version + CASE WHEN $3::text IS NOT NULL AND d.status <> 'maintenance'"
                   "                             AND d.status <> $3 THEN 1 ELSE 0 END "
                   "FROM old WHERE d.id = $1::uuid "
                   "RETURNING d.version, (old.status <> d.status) AS status_changed",
                   {*id, seen, status, battery ? db::Param(std::to_string(*battery)) : std::nullopt}));
        if (rows.empty()) continue;  // deleted meanwhile: nothing to update
        ++updated;
        if (rows.get_bool(0, 1)) changed.push_back({*id, rows.get_int(0, 0)});
      }
      return http::Response::json(200, "{\"updated\":" + std::to_string(updated) + "}");
    });
    if (res.status == 200) {
      // Last-seen times changed even where no status did: cached device reads are stale.
      if (updated > 0) ctx.events.invalidate_reads();
      for (const auto& c : changed) ctx.events.changed("device", "updated", c.id, c.version);
    }
    return res;
  });
}

}  // namespace dm::registry
