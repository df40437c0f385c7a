#include "targets.hpp"

#include "dm/contract/subjects.hpp"
#include "dm/contract/taps.hpp"
#include "dm/core/log.hpp"
#include "dm/service/rpc.hpp"

namespace dm::dispatcher {

TargetCache::TargetCache(bus::Connection& rpc, bus::Connection& events) : rpc_(rpc), events_(events) {}

Result<void> TargetCache::start() {
  for (auto kind : {contract::RegistryKind::integration, contract::RegistryKind::storage}) {
    DM_ASSIGN_OR_RETURN(auto sub, events_.subscribe(contract::subject::registry_changed(contract::to_string(kind)), "",
                                                    [this](bus::Message&& m) {
                                                      auto change = contract::decode_registry_change(m.data);
                                                      if (!change) return;
                                                      std::lock_guard lock(mutex_);
                                                      cache_.erase(change->id);
                                                      dropped_version_[change->id] = change->version;
                                                    }));
    subs_.push_back(std::move(sub));
  }
  return ok();
}

void TargetCache::invalidate(const std::string& id) {
  std::lock_guard lock(mutex_);
  cache_.erase(id);
}

std::shared_ptr<const Target> TargetCache::cached(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(id);
  return it == cache_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<const Target>> TargetCache::get(contract::JobKind kind, const std::string& id) {
  if (auto hit = cached(id)) return hit;
  const std::string what = std::string(contract::to_string(kind));
  const std::string plural = what + "s";
  bus::Headers headers{{"Dm-Method", "GET"}, {"Dm-Target", "/internal/v1/" + plural + "/" + id}};
  DM_ASSIGN_OR_RETURN(auto reply, rpc_.request(contract::subject::rpc(contract::kRegistry, contract::kDispatcher), "",
                                               std::chrono::seconds(5), headers));
  int status = std::atoi(reply.header("Dm-Status").value_or("0").c_str());
  if (status == 404) return make_error(Errc::not_found, what + " " + id + " does not exist");
  if (status != 200)
    return make_error(Errc::unavailable, "registry answered " + std::to_string(status) + " for " + what + " " + id);
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
      [id](const Result<bus::Message>& r) {
        if (!r) log::warn("reporting integration status failed", {{"id", id}, {"error", r.error().message}});
      },
      headers);
}

}  // namespace dm::dispatcher
