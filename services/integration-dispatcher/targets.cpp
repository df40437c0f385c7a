#include "targets.hpp"

#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/service/rpc.hpp"

namespace dm::dispatcher {

TargetCache::TargetCache(bus::Connection& rpc, bus::Connection& events) : rpc_(rpc), events_(events) {}

Result<void> TargetCache::start() {
  for (const char* kind : {"integration", "storage"}) {
    DM_ASSIGN_OR_RETURN(auto sub,
                        events_.subscribe(contract::subject::registry_changed(kind), "", [this](bus::Message&& m) {
                          auto doc = json::parse(m.data);
                          if (!doc || !doc->IsObject()) return;
                          auto id = json::get_string(*doc, "id");
                          if (!id) return;
                          std::lock_guard lock(mutex_);
                          cache_.erase(std::string(*id));
                          if (auto v = json::get_int(*doc, "version")) dropped_version_[std::string(*id)] = *v;
                        }));
    subs_.push_back(std::move(sub));
  }
  return ok();
}

void TargetCache::invalidate(const std::string& id) {
  std::lock_guard lock(mutex_);
  cache_.erase(id);
}

Result<std::shared_ptr<const Target>> TargetCache::get(const std::string& kind, const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(id); it != cache_.end()) return it->second;
  }
  std::string plural = kind == "storage" ? "storages" : "integrations";
  bus::Headers headers{{"Dm-Method", "GET"}, {"Dm-Target", "/internal/v1/" + plural + "/" + id}};
  DM_ASSIGN_OR_RETURN(auto reply, rpc_.request(contract::subject::rpc(contract::kRegistry, contract::kDispatcher), "", std::chrono::seconds(5), headers));
  int status = std::atoi(reply.header("Dm-Status").value_or("0").c_str());
  if (status == 404) return make_error(Errc::not_found, kind + " " + id + " does not exist");
  if (status != 200)
    return make_error(Errc::unavailable, "registry answered " + std::to_string(status) + " for " + kind + " " + id);
  DM_ASSIGN_OR_RETURN(auto target, parse_target(kind, reply.data));
  auto shared = std::make_shared<const Target>(std::move(target));
  std::lock_guard lock(mutex_);
  // A change event that arrived while we asked wins: keep the answer only if it is not older.
  auto dropped = dropped_version_.find(id);
  if (dropped == dropped_version_.end() || shared->version >= dropped->second) cache_[id] = shared;
  return std::shared_ptr<const Target>(shared);
}

void TargetCache::report_status(const std::string& id, const std::string& status,
                                const std::optional<std::string>& last_error) {
  json::Writer w;
  w.start_object().field("status", status).field_or_null("last_error", last_error).end_object();
  bus::Headers headers{{"Dm-Method", "POST"},
                       {"Dm-Target", "/internal/v1/integrations/" + id + "/status"},
                       {"Content-Type", "application/json"}};
  rpc_.request_async(
      contract::subject::rpc(contract::kRegistry, contract::kDispatcher), w.take(), std::chrono::seconds(5),
      [id](Result<bus::Message> r) {
        if (!r) log::warn("reporting integration status failed", {{"id", id}, {"error", r.error().message}});
      },
      headers);
}

}  // namespace dm::dispatcher
