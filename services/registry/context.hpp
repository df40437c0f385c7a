#pragma once
// What every route module is given by main(): the service's handles and settings, read once
// at start-up (nothing global), and the change events every write announces.
#include <cstdint>
#include <string_view>

#include "dm/bus/bus.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/db/db.hpp"
#include "dm/http/outbound.hpp"
#include "doc_cache.hpp"
#include "domain.hpp"
#include "secrets.hpp"

namespace dm::registry {

// Publishes `dm.registry.changed.<kind>` after a committed change, so caches elsewhere
// (orchestrator, runner, gateway) refresh without asking on every uplink.
// Every committed write also clears the read cache of every registry replica.
class Events {
 public:
  Events(bus::Connection& nats, DocCache& cache) : nats_(nats), cache_(cache) {}
  void changed(Kind kind, Action action, std::string_view id, std::int64_t version);
  // A write that publishes no change event (e.g. last-seen times) still makes cached reads stale.
  void invalidate_reads();

 private:
  bus::Connection& nats_;
  DocCache& cache_;
};

inline constexpr const char* kInvalidateSubject = contract::subject::kRegistryInvalidate;

struct Context {
  db::Pool& db;
  Events& events;
  const SecretBox& secrets;              // seals and opens stored secrets (key from SECRET_KEY)
  const http::OutboundPolicy& outbound;  // OUTBOUND_ALLOW: destinations allowed although special
  // The request/reply connection the compile check asks the function-runner on; without one
  // (null) function code is saved unchecked.
  bus::Connection* runner = nullptr;
  DocCache* cache = nullptr;  // read cache; null disables it
};

}  // namespace dm::registry
