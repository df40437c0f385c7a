// dm-integration-dispatcher: wiring only. See README.md beside this file for what the service owns.
#include "dispatcher.hpp"
#include "dm/contract/streams.hpp"
#include "dm/core/log.hpp"
#include "dm/service/rpc.hpp"
#include "dm/service/runtime.hpp"
#include "routes.hpp"

namespace dm::integration_dispatcher {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

namespace {
using namespace dm;

struct DispatcherConfig {
  dispatcher::Settings settings;
  http::OutboundPolicy policy;
  dispatcher::RecorderOptions recording;
};

DispatcherConfig read_config(Config& c) {
  DispatcherConfig dc;
  auto& settings = dc.settings;
  settings.max_attempts = static_cast<int>(c.integer("MAX_ATTEMPTS", 5, 1, 100));
  settings.retry_base = c.millis("RETRY_BASE", std::chrono::milliseconds(1000));
  settings.retry_cap = c.millis("RETRY_CAP", std::chrono::milliseconds(60000));
  settings.breaker_threshold = static_cast<int>(c.integer("BREAKER_THRESHOLD", 5, 1, 1000000));
  settings.breaker_cooldown = c.millis("BREAKER_COOLDOWN", std::chrono::seconds(10));
  settings.breaker_first_cooldown = c.millis("BREAKER_FIRST_COOLDOWN", std::chrono::seconds(1));
  settings.workers = static_cast<int>(c.integer("WORKERS", 16, 1, 1024));
  settings.http_concurrency = static_cast<int>(c.integer("HTTP_CONCURRENCY", 8, 1, 1024));
  settings.http_max_concurrency = static_cast<int>(c.integer("HTTP_MAX_CONCURRENCY", 256, 1, 4096));
  if (settings.http_max_concurrency < settings.http_concurrency)
    c.add_problem("DISPATCHER_HTTP_MAX_CONCURRENCY must not be below DISPATCHER_HTTP_CONCURRENCY");
  settings.mqtt_in_flight = static_cast<int>(c.integer("MQTT_IN_FLIGHT", 1000, 1, 100000));
  settings.max_target_queue = static_cast<std::size_t>(c.integer("TARGET_QUEUE", 2000, 1, 1000000));
  // The consumer's settings are provisioning's; the same keys tell the dispatcher its ack
  // wait (to keep held jobs alive) and how many jobs it may hold.
  auto streams = contract::read_stream_settings(c);
  settings.ack_wait = streams.dispatch_ack_wait;
  settings.max_pending = static_cast<std::size_t>(streams.dispatch_max_ack_pending);
  settings.max_job_age =
      c.millis("MAX_JOB_AGE", std::chrono::minutes(15), std::chrono::seconds(1), std::chrono::hours(24 * 7));
  settings.history_retention_days = static_cast<int>(c.integer("HISTORY_RETENTION_DAYS", 30, 1, 36500));
  dc.recording.max_batch = static_cast<std::size_t>(c.integer("HISTORY_BATCH", 1000, 1, 20000));
  dc.recording.linger =
      c.millis("HISTORY_LINGER", std::chrono::milliseconds(100), std::chrono::milliseconds(1), std::chrono::seconds(5));
  auto allow = http::OutboundPolicy::parse(c.str("OUTBOUND_ALLOW", ""));
  if (allow)
    dc.policy = std::move(allow).value();
  else
    c.add_problem(allow.error().message);
  return dc;
}

// Outcome totals and work in memory, refreshed when /metrics is read.
void add_outcome_metrics(metrics::Registry& m, const dispatcher::Dispatcher& engine,
                         const dispatcher::Recorder& recorder) {
  auto* delivered = &m.gauge("dm_dispatcher_delivered_total", "Deliveries recorded as delivered since start");
  auto* retried = &m.gauge("dm_dispatcher_retried_total", "Attempts recorded as retrying since start");
  auto* failed = &m.gauge("dm_dispatcher_failed_total", "Deliveries failed permanently since start");
  auto* dead = &m.gauge("dm_dispatcher_dead_lettered_total", "Deliveries dead-lettered since start");
  auto* pending = &m.gauge("dm_dispatcher_pending_jobs", "Jobs held in memory (queued, in flight or being recorded)");
  auto* unrecorded = &m.gauge("dm_dispatcher_history_queue", "Outcomes waiting to be recorded");
  m.on_collect([&engine, &recorder, delivered, retried, failed, dead, pending, unrecorded] {
    auto st = engine.stats();
    delivered->set(static_cast<double>(st.delivered));
    retried->set(static_cast<double>(st.retried));
    failed->set(static_cast<double>(st.failed));
    dead->set(static_cast<double>(st.dead_lettered));
    pending->set(static_cast<double>(st.pending));
    unrecorded->set(static_cast<double>(recorder.queued()));
  });
}

}  // namespace

int main() {
  using namespace dm;
  service::Runtime runtime({
      .name = "integration-dispatcher",
      .scope = "DISPATCHER",
      .schema = "dispatcher",
      .default_port = 8005,
      .migrations = &dm::integration_dispatcher::migrations(),
      .public_api = false,
  });
  DispatcherConfig cfg;
  std::unique_ptr<dispatcher::TargetCache> targets;
  std::unique_ptr<dispatcher::HttpSender> http_sender;
  std::unique_ptr<dispatcher::MqttSender> mqtt_sender;
  std::unique_ptr<dispatcher::StorageWriter> storages;
  std::unique_ptr<dispatcher::Attempter> attempter;
  std::unique_ptr<dispatcher::Recorder> recorder;
  std::unique_ptr<dispatcher::Dispatcher> engine;
  std::unique_ptr<dispatcher::RouteContext> route_ctx;
  std::unique_ptr<service::RpcServer> rpc;
  return runtime.main([&](Config& c) { cfg = read_config(c); },
                      [&](service::Runtime& rt) -> Result<void> {
                        targets = std::make_unique<dispatcher::TargetCache>(rt.rpc(), rt.nats());
                        DM_TRY(targets->start());
                        http_sender = std::make_unique<dispatcher::HttpSender>(
                            cfg.policy, static_cast<std::size_t>(cfg.settings.http_max_concurrency));
                        mqtt_sender = std::make_unique<dispatcher::MqttSender>(cfg.policy);
                        storages = std::make_unique<dispatcher::StorageWriter>(*http_sender);
                        attempter = std::make_unique<dispatcher::Attempter>(*http_sender, *mqtt_sender, *storages);
                        recorder = std::make_unique<dispatcher::Recorder>(rt.db(), cfg.recording);
                        rt.add_readiness_check("recorder", [&] { return recorder->health(); });
                        engine = std::make_unique<dispatcher::Dispatcher>(cfg.settings, rt.nats(), rt.db(), *targets,
                                                                          *attempter, *recorder);
                        route_ctx = std::make_unique<dispatcher::RouteContext>(
                            dispatcher::RouteContext{rt.db(), rt.nats(), *targets, *attempter});
                        auto api = std::make_shared<http::Router>();
                        dispatcher::add_history_routes(*api, *route_ctx);
                        dispatcher::add_dead_letter_routes(*api, *route_ctx);
                        dispatcher::add_test_route(*api, *route_ctx);
                        dispatcher::add_record_routes(*api, *route_ctx);
                        DM_ASSIGN_OR_RETURN(rpc, service::serve_rpc(rt, api));
                        DM_TRY(engine->start());
                        add_outcome_metrics(rt.metrics(), *engine, *recorder);
                        rt.on_shutdown([&] {
                          rpc->stop();
                          engine->stop();
                          recorder->stop();  // what was attempted is recorded (and acked) before NATS drains
                          mqtt_sender->stop();
                        });
                        return ok();
                      });
}
