#include "context.hpp"

#include "dm/core/log.hpp"
#include "dm/core/time.hpp"
#include "dm/json/json.hpp"

namespace dm::registry {

void Events::changed(Kind kind, Action action, std::string_view id, std::int64_t version) {
  json::Writer w;
  w.start_object()
      .field("kind", word(kind))
      .field("action", word(action))
      .field("id", id)
      .field("version", version)
      .field("at", format_rfc3339(now()))
      .end_object();
  invalidate_reads();
  if (auto r = nats_.publish(contract::subject::registry_changed(word(kind)), w.view()); !r) {
    // The change is committed; caches fall back to their periodic refresh.
    log::warn("change event not published", {{"kind", word(kind)}, {"id", id}, {"error", r.error().message}});
  }
}

void Events::invalidate_reads() {
  cache_.invalidate();
  // Other replicas clear theirs; ours hears its own message too, which is harmless.
  if (auto r = nats_.publish(kInvalidateSubject, "{}"); !r) {
    log::warn("cache invalidation not published", {{"error", r.error().message}});
  }
}

}  // namespace dm::registry
