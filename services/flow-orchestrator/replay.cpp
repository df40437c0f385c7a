#include "replay.hpp"

#include <random>

#include "direct_run.hpp"
#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "dm/json/json.hpp"
#include "history.hpp"
#include "owners.hpp"

namespace dm::flow_orchestrator {
namespace {

http::Response unavailable(const std::string& what) {
  auto r = http::Response::error(503, what);
  r.headers.set("Retry-After", "2");
  return r;
}

http::Response replay(bus::Connection& rpc, bus::Connection& nats, db::Pool& db, const View& view, Engine& engine,
                      const http::Request& req) {
  const auto& device_id = req.params.at("id");
  const auto& history_id = req.params.at("history_id");
  if (!api::is_uuid(device_id)) return http::Response::error(404, "Device not found");
  if (!api::is_uuid(history_id)) return http::Response::error(404, "History entry not found");
  auto device = view.device_by_id(device_id);
  if (!device) return http::Response::error(404, "Device not found");

  auto stored = ask_owner(rpc, "ingest", "GET", "/internal/v1/devices/" + device_id + "/history/" + history_id, "",
                          std::chrono::seconds(5));
  if (!stored) return unavailable("Device history is unavailable: " + stored.error().message);
  if (stored->status == 404) return http::Response::error(404, "History entry not found");
  if (stored->status != 200) return unavailable("ingest answered " + std::to_string(stored->status));
  auto doc = json::parse(stored->body, {.max_bytes = 16u << 20, .max_depth = 128});
  const json::Value* type = doc && doc->IsObject() ? json::find(*doc, "event_type") : nullptr;
  const json::Value* event = doc && doc->IsObject() ? json::find(*doc, "event") : nullptr;
  if (!type || !type->IsString() || !event || !event->IsObject()) {
    log::error("stored event from ingest unreadable", {{"history_id", history_id}});
    return http::Response::error(500, "Internal Server Error");
  }
  if (json::view(*type) != "up")
    return http::Response::error(
        409, "Only uplinks run through flows; this history entry is a '" + std::string(json::view(*type)) + "' event");
  auto uplink = read_uplink(json::to_string(*event), view);
  if (!uplink) return http::Response::error(409, "The stored uplink cannot run: " + uplink.error().message);
  uplink->device_id = device->id;

  auto keys = run_now({nats, db, view, engine}, *uplink, device.get(), new_replay_id());
  if (!keys) return unavailable("The replay could not run: " + keys.error().message);
  log::info("uplink replayed", {{"device", device->id}, {"dedup_id", uplink->dedup_id}, {"runs", keys->size()}});
  auto body = runs_document(db, *keys);
  if (!body) return unavailable("Flow history is unavailable");
  return http::Response::json(200, std::move(body).value());
}

}  // namespace

std::string replay_key(const std::string& flow_id, const std::string& dedup_id, const std::string& replay_id) {
  return flow_id + ":replay:" + dedup_id + ":" + replay_id;
}

std::string new_replay_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  constexpr const char* kHex = "0123456789abcdef";
  std::string out;
  for (int half = 0; half < 2; ++half) {
    auto v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) out += kHex[v & 0xf];
  }
  return out;
}

void add_replay_route(http::Router& router, bus::Connection& rpc, bus::Connection& nats, db::Pool& db, const View& view,
                      Engine& engine) {
  router.add_sync("POST", "/api/v1/devices/{id}/history/{history_id}/replay",
                  [&rpc, &nats, &db, &view, &engine](const http::Request& req) {
                    return replay(rpc, nats, db, view, engine, req);
                  });
}

}  // namespace dm::flow_orchestrator
