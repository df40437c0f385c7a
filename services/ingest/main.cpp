// dm-ingest: wiring only. See README.md beside this file for what the service owns.
#include "directory.hpp"
#include "dm/core/log.hpp"
#include "dm/service/rpc.hpp"
#include "dm/service/runtime.hpp"
#include "history.hpp"
#include "history_internal.hpp"
#include "registry_link.hpp"
#include "webhook.hpp"

namespace dm::ingest {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

namespace {

struct IngestConfig {
  dm::ingest::WebhookOptions webhook;
  dm::ingest::LinkOptions link;
  std::chrono::milliseconds unknown_ttl{10000};
  std::chrono::milliseconds dedup_window{120000};
  int history_batch = 500;
  std::chrono::milliseconds history_linger{100};
};

IngestConfig read_config(dm::Config& c) {
  IngestConfig ic;
  // Only the scoped name: an unscoped SECRET meant for something else must not open the webhook.
  ic.webhook.secret = c.raw("INGEST_SECRET").value_or("");
  if (ic.webhook.secret.empty())
    c.add_problem("INGEST_SECRET is required (the shared secret ChirpStack sends)");
  else if (ic.webhook.secret.size() < 16)
    c.add_problem("INGEST_SECRET must be at least 16 characters");
  auto policy = c.one_of("UNKNOWN_DEVICE_POLICY", "reject", {"reject", "record", "register"});
  ic.webhook.unknown_policy = policy == "record"     ? dm::ingest::UnknownPolicy::record
                              : policy == "register" ? dm::ingest::UnknownPolicy::register_device
                                                     : dm::ingest::UnknownPolicy::reject;
  ic.link.flush_interval = c.millis("STATE_FLUSH_INTERVAL", std::chrono::seconds(1));
  ic.link.offline_check_interval = c.millis("OFFLINE_CHECK_INTERVAL", std::chrono::seconds(60));
  ic.link.offline_grace = c.millis("OFFLINE_GRACE", std::chrono::minutes(5));
  ic.link.offline_unit = c.millis("OFFLINE_TIME_UNIT", std::chrono::minutes(1));
  ic.link.reload_interval = c.millis("DEVICE_RELOAD_INTERVAL", std::chrono::minutes(5));
  ic.unknown_ttl = c.millis("UNKNOWN_CACHE_TTL", std::chrono::seconds(10));
  ic.dedup_window = c.millis("DEDUP_WINDOW", std::chrono::minutes(2));
  ic.history_batch = static_cast<int>(c.integer("HISTORY_BATCH", 500, 1, 5000));
  ic.history_linger = c.millis("HISTORY_LINGER", std::chrono::milliseconds(100), {}, std::chrono::seconds(5));
  ic.webhook.recent_ids = static_cast<std::size_t>(c.integer("RECENT_IDS", 200000, 0, 10000000));
  ic.webhook.dedup_window = ic.dedup_window;
  ic.webhook.batch.linger = c.millis("BATCH_LINGER", std::chrono::milliseconds(10), {}, std::chrono::seconds(1));
  ic.webhook.batch.max_events = static_cast<std::size_t>(c.integer("BATCH_MAX", 256, 1, 10000));
  // ChirpStack waits 5 s; 4 s leaves room to answer, and covers most stream-leader elections
  // on a NATS cluster (the bus holds a publish while its stream has no leader).
  ic.webhook.publish_timeout = c.millis("PUBLISH_TIMEOUT", std::chrono::seconds(4));
  if (ic.webhook.publish_timeout < std::chrono::milliseconds(10))
    c.add_problem("INGEST_PUBLISH_TIMEOUT must be at least 10ms");
  if (ic.link.flush_interval.count() <= 0 || ic.link.offline_check_interval.count() <= 0)
    c.add_problem("INGEST_STATE_FLUSH_INTERVAL and INGEST_OFFLINE_CHECK_INTERVAL must be positive");
  if (ic.dedup_window < std::chrono::seconds(1)) c.add_problem("INGEST_DEDUP_WINDOW must be at least 1s");
  return ic;
}

const char* policy_name(dm::ingest::UnknownPolicy policy) {
  using dm::ingest::UnknownPolicy;
  return policy == UnknownPolicy::reject ? "reject" : policy == UnknownPolicy::record ? "record" : "register";
}

// /readyz: history is being written and the device list has come from the registry;
// /metrics: the size of that list.
void watch_health(dm::service::Runtime& rt, const dm::ingest::HistoryWriter& writer,
                  const dm::ingest::Directory& directory) {
  using namespace dm;
  rt.add_readiness_check("device_history", [w = &writer] { return w->health(); });
  rt.add_readiness_check("device_cache", [d = &directory]() -> Result<void> {
    if (!d->loaded()) return Error(Errc::unavailable, "device list not loaded from the registry yet");
    return ok();
  });
  rt.metrics().on_collect([&rt, d = &directory] {
    rt.metrics().gauge("dm_ingest_cached_devices", "Devices in the dev_eui cache.").set(static_cast<double>(d->size()));
  });
}

}  // namespace

int main() {
  using namespace dm;
  service::Runtime runtime({
      .name = "ingest",
      .scope = "INGEST",
      .schema = "ingest",
      .default_port = 8001,
      .migrations = &ingest::migrations(),
      .public_api = false,
  });
  IngestConfig cfg;
  std::unique_ptr<ingest::Directory> directory;
  std::unique_ptr<ingest::RegistryLink> link;
  std::unique_ptr<service::DeadLetterBox> dead_letters;
  std::unique_ptr<ingest::HistoryWriter> writer;
  std::unique_ptr<service::RpcServer> rpc;
  return runtime.main(
      [&](Config& config) { cfg = read_config(config); },
      [&](service::Runtime& rt) -> Result<void> {
        // DM_DEVICE_EVENTS and the history consumer are provisioning's (dm-provision): a full
        // stream refuses a publish (503) instead of dropping events acknowledged to ChirpStack.

        directory = std::make_unique<ingest::Directory>(cfg.unknown_ttl);
        link = std::make_unique<ingest::RegistryLink>(rt.rpc(), rt.nats(), *directory, cfg.link);
        DM_TRY(link->start());
        dead_letters = std::make_unique<service::DeadLetterBox>(rt.db(), rt.nats(), ingest::kDeadLetterKind);
        writer = std::make_unique<ingest::HistoryWriter>(rt.nats(), rt.db(), *dead_letters, rt.metrics(),
                                                         cfg.history_batch, cfg.history_linger);
        DM_TRY(writer->start());

        // Ingest's own port (ChirpStack posts here; no user authentication) serves the webhook
        // alone, with its shared secret. Everything else is served over NATS, where the
        // gateway has authenticated the user (and the orchestrator asks for stored events).
        auto api = std::make_shared<http::Router>();
        ingest::add_webhook_route({&rt.router(), api.get()}, rt.nats(), *directory, *link, rt.metrics(), cfg.webhook);
        ingest::add_history_routes(*api, rt.db(), *directory);
        ingest::add_internal_history_routes(*api, rt.db());
        dead_letters->add_routes(*api, [&db = rt.db()](const service::StoredDeadLetter& letter) {
          return ingest::restore_history(db, letter);
        });
        DM_ASSIGN_OR_RETURN(rpc, service::serve_rpc(rt, api));

        watch_health(rt, *writer, *directory);
        rt.on_shutdown([&] {
          rpc->stop();
          writer->stop();
          link->stop();
        });
        log::info("ingest ready", {{"unknown_device_policy", std::string(policy_name(cfg.webhook.unknown_policy))}});
        return ok();
      });
}
