#include "common.hpp"

#include <map>

#include "dm/core/log.hpp"
#include "dm/core/time.hpp"
#include "dm/json/json.hpp"

namespace dm::registry {

void Events::changed(std::string_view kind, std::string_view action, std::string_view id, std::int64_t version) {
  json::Writer w;
  w.start_object()
      .field("kind", kind)
      .field("action", action)
      .field("id", id)
      .field("version", version)
      .field("at", format_rfc3339(now()))
      .end_object();
  if (auto r = nats_.publish("dm.registry.changed." + std::string(kind), w.view()); !r) {
    // The change is committed; caches fall back to their periodic refresh.
    log::warn("change event not published", {{"kind", kind}, {"id", id}, {"error", r.error().message}});
  }
}

http::Response store_error(const Error& e, std::string_view conflict_detail) {
  switch (e.code) {
    case Errc::conflict:
      return http::Response::error(409, conflict_detail.empty() ? std::string_view(e.message) : conflict_detail);
    case Errc::not_found:
      return http::Response::error(404, e.message);
    case Errc::invalid_argument:
      return http::Response::error(422, e.message);
    case Errc::unavailable:
    case Errc::timeout:
      log::warn("database unavailable", {{"error", e.message}});
      return http::Response::error(503, "Database unavailable, try again");
    default:
      log::error("store error", {{"error", e.message}});
      return http::Response::error(500, "Internal Server Error");
  }
}

std::string json_array(const db::Rows& rows, int column) {
  std::string out = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i) out += ',';
    out += rows.get(i, column);
  }
  out += ']';
  return out;
}

http::Response list_response(const db::Rows& rows, std::int64_t total) {
  auto res = http::Response::json(200, json_array(rows));
  res.headers.set("X-Total-Count", std::to_string(total));
  return res;
}

http::Response not_found(std::string_view what) { return http::Response::error(404, std::string(what) + " not found"); }

Result<std::vector<std::string>> enabled_flows_using(db::Session& s, std::string_view kind, std::string_view id) {
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT DISTINCT f.name FROM flow_refs r JOIN flows f ON f.id = r.flow_id "
                                        "WHERE r.kind = $1 AND r.entity_id = $2::uuid AND f.enabled ORDER BY f.name",
                                        {std::string(kind), std::string(id)}));
  std::vector<std::string> names;
  for (std::size_t i = 0; i < rows.size(); ++i) names.emplace_back(rows.get(i, 0));
  return names;
}

Result<std::optional<http::Response>> refuse_if_in_use(db::Session& s, std::string_view kind, std::string_view id,
                                                       std::string_view what) {
  // Lock the entity first: a flow saved between this check and the DELETE would otherwise
  // be left enabled and pointing at nothing (flow saves lock referenced rows FOR KEY SHARE).
  static const std::map<std::string_view, std::string> tables = {{"device", "devices"}, {"label", "labels"},
      {"function", "functions"}, {"integration", "integrations"}, {"storage", "storages"}};
  if (auto t = tables.find(kind); t != tables.end()) {
    DM_TRY(s.exec("SELECT 1 FROM " + t->second + " WHERE id = $1::uuid FOR UPDATE", {std::string(id)}));
  }
  DM_ASSIGN_OR_RETURN(auto names, enabled_flows_using(s, kind, id));
  if (names.empty()) return std::optional<http::Response>{};
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return std::optional<http::Response>(
      http::Response::error(409, std::string(what) + " is used by enabled flows: " + list));
}

}  // namespace dm::registry
