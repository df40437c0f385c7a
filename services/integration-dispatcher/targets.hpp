#pragma once
// Integration and storage definitions, secrets opened, from the registry's internal routes
// over NATS; cached, and dropped when `dm.registry.changed.<kind>` says they changed.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dm/bus/bus.hpp"
#include "model.hpp"

namespace dm::dispatcher {

class TargetCache {
 public:
  TargetCache(bus::Connection& rpc, bus::Connection& events);
  Result<void> start();
  // Errc::not_found when the registry does not know it (a permanent failure for a job);
  // unavailable/timeout when the registry cannot be asked.
  Result<std::shared_ptr<const Target>> get(contract::JobKind kind, const std::string& id);
  // The cached definition, or null: never asks the registry, so it never blocks.
  std::shared_ptr<const Target> cached(const std::string& id);
  void invalidate(const std::string& id);
  // POST /internal/v1/integrations/{id}/status, fire and forget (logged on failure).
  void report_status(const std::string& id, const std::string& status, const std::optional<std::string>& last_error);

 private:
  bus::Connection& rpc_;
  bus::Connection& events_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Target>> cache_;
  std::map<std::string, std::int64_t> dropped_version_;  // id → version of the last change event
  std::vector<std::unique_ptr<bus::Subscription>> subs_;
};

}  // namespace dm::dispatcher
