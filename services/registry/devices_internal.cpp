// Internal device routes, served over NATS only (never through the gateway): the compact
// view that ingest and the orchestrator cache, and the batched state updates ingest sends
// (last seen, battery, online/offline) so the registry stays the owner of device rows.
#include <variant>

#include "dm/core/strings.hpp"
#include "dm/core/time.hpp"
#include "resource.hpp"
#include "routes.hpp"

namespace dm::registry {
namespace {

// The states ingest reports; maintenance is the operators' to set.
const std::vector<std::string> kStates = words({DeviceStatus::never_seen, DeviceStatus::online, DeviceStatus::offline});

http::Response directory_answer(const Result<std::optional<std::string>>& doc) {
  if (!doc) return store_error(doc.error());
  if (!*doc) return not_found(Kind::device);
  return http::Response::json(200, **doc);
}

// One entry of {"devices": [...]}: {"id", "last_seen_at", "status"?, "battery_level"?}; the
// 422 answer for the first entry that is wrong.
std::variant<std::vector<store::DeviceState>, http::Response> read_states(const json::Value& list) {
  std::vector<store::DeviceState> states;
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    api::BodyReader r(list[i], {"body", "devices", std::to_string(i)});
    auto id = r.string("id", {.required = true});
    auto seen = r.string("last_seen_at");
    auto status = r.choice("status", kStates);
    auto battery = r.number("battery_level", {.min = 0, .max = 100, .nullable = true});
    if (id && !is_uuid(*id)) r.add_error("id", "Input should be a valid UUID", "uuid_parsing");
    if (seen && !parse_rfc3339(*seen))
      r.add_error("last_seen_at", "Input should be a valid datetime", "datetime_parsing");
    if (!r.ok()) return r.response();
    states.push_back(
        {.id = *id, .last_seen_at = seen, .status = parse_choice<DeviceStatus>(status), .battery_level = battery});
  }
  return states;
}

// POST /internal/v1/devices/state. last_seen_at only moves forward; a device in maintenance
// keeps that status; only a status change bumps the version and publishes a change event.
http::Response update_states(Context& ctx, const http::Request& req) {
  auto body = api::parse_body(req, 8 << 20);
  if (body.error) return *body.error;
  const auto* list = json::find(body.doc, "devices");
  if (!list || !list->IsArray()) return api::validation_error({"body", "devices"}, "Field required", "missing");
  auto read = read_states(*list);
  if (auto* bad = std::get_if<http::Response>(&read)) return std::move(*bad);
  std::vector<std::pair<std::string, std::int64_t>> changed;  // id, version
  std::int64_t updated = 0;
  auto res = in_transaction(ctx.db, [&](db::Session& s) -> Result<http::Response> {
    // Devices deleted meanwhile have no change: nothing to update.
    DM_ASSIGN_OR_RETURN(auto changes, store::update_device_states(s, std::get<std::vector<store::DeviceState>>(read)));
    for (const auto& change : changes) {
      ++updated;
      if (change.status_changed) changed.emplace_back(change.id, change.version);
    }
    return http::Response::json(200, "{\"updated\":" + std::to_string(updated) + "}");
  });
  if (res.status == 200) {
    // Last-seen times changed even where no status did: cached device reads are stale.
    if (updated > 0) ctx.events.invalidate_reads();
    for (const auto& [id, version] : changed) ctx.events.changed(Kind::device, Action::updated, id, version);
  }
  return res;
}

}  // namespace

void add_internal_device_routes(http::Router& router, Context& ctx) {
  router.add_sync("GET", "/internal/v1/devices", [&ctx](const http::Request&) {
    auto docs = store::device_directory(ctx.db);
    if (!docs) return store_error(docs.error());
    return http::Response::json(200, std::move(*docs));
  });
  router.add_sync("GET", "/internal/v1/devices/{id}", [&ctx](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (!is_uuid(id)) return not_found(Kind::device);
    return directory_answer(store::directory_entry(ctx.db, id));
  });
  router.add_sync("GET", "/internal/v1/devices/by-eui/{dev_eui}", [&ctx](const http::Request& req) {
    return directory_answer(store::directory_entry_by_eui(ctx.db, lower(req.params.at("dev_eui"))));
  });
  router.add_sync("POST", "/internal/v1/devices/state",
                  [&ctx](const http::Request& req) { return update_states(ctx, req); });
}

}  // namespace dm::registry
