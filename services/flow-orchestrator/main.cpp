// dm-flow-orchestrator: wiring only. See README.md beside this file for what the service owns.
#include "direct_run.hpp"
#include "dm/core/log.hpp"
#include "dm/service/rpc.hpp"
#include "dm/service/runtime.hpp"
#include "engine.hpp"
#include "function_history.hpp"
#include "history.hpp"
#include "processor.hpp"
#include "replay.hpp"
#include "simulate.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

namespace {

struct OrchestratorConfig {
  dm::flow_orchestrator::ProcessorOptions processor;
  dm::flow_orchestrator::EngineOptions engine;
  std::chrono::milliseconds reload_interval{60000};
};

OrchestratorConfig read_config(dm::Config& c) {
  OrchestratorConfig oc;
  oc.engine.walker.exec_batch = static_cast<std::size_t>(c.integer("EXEC_BATCH", 64, 1, 1000));
  oc.processor.fetch_batch = static_cast<int>(c.integer("FETCH_BATCH", 128, 1, 1000));
  oc.processor.lanes = static_cast<int>(c.integer("LANES", 4, 1, 64));
  oc.processor.lane_queue = static_cast<int>(c.integer("LANE_QUEUE", 256, 1, 10000));
  oc.processor.retry_delay = c.millis("RETRY_DELAY", std::chrono::seconds(2));
  oc.processor.max_retry_delay =
      c.millis("MAX_RETRY_DELAY", std::chrono::minutes(1), std::chrono::milliseconds(1), std::chrono::hours(1));
  oc.processor.max_deliveries = static_cast<int>(c.integer("MAX_DELIVERIES", 20, 2, 1000));
  oc.processor.record_linger = c.millis("RECORD_LINGER", std::chrono::milliseconds(100), {}, std::chrono::seconds(5));
  oc.processor.lane_linger = c.millis("LANE_LINGER", std::chrono::milliseconds(15), {}, std::chrono::seconds(1));
  oc.processor.retention_days = static_cast<int>(c.integer("HISTORY_RETENTION_DAYS", 30, 1, 3650));
  oc.engine.walker.function_timeout_ms = static_cast<int>(c.integer("FUNCTION_TIMEOUT_MS", 1000, 1, 5000));
  oc.reload_interval = c.millis("RELOAD_INTERVAL", std::chrono::minutes(1));
  // The consumer's ack wait (ORCHESTRATOR_ACK_WAIT) is provisioning's (contract::read_stream_settings).
  if (oc.reload_interval < std::chrono::seconds(1)) c.add_problem("ORCHESTRATOR_RELOAD_INTERVAL must be at least 1s");
  return oc;
}

// Readiness, and the gauges read at each scrape.
void watch(dm::service::Runtime& rt, const dm::flow_orchestrator::View& view,
           const dm::flow_orchestrator::Processor& processor) {
  using dm::Result;
  rt.add_readiness_check("flow_history", [p = &processor] { return p->health(); });
  rt.add_readiness_check("registry_view", [v = &view]() -> Result<void> {
    if (!v->loaded()) return dm::Error(dm::Errc::unavailable, "flows and devices not loaded from the registry yet");
    return dm::ok();
  });
  rt.metrics().on_collect([&rt, v = &view, p = &processor] {
    auto set = [&rt](const char* name, const char* help, double value) { rt.metrics().gauge(name, help).set(value); };
    set("dm_orchestrator_lane_queued", "Uplinks waiting in the lanes.", static_cast<double>(p->queued()));
    set("dm_orchestrator_cached_flows", "Enabled flows in the view.", static_cast<double>(v->flow_count()));
    set("dm_orchestrator_cached_devices", "Devices in the view.", static_cast<double>(v->device_count()));
    set("dm_orchestrator_device_reloads", "Device list loads from the registry since start.",
        static_cast<double>(v->device_reloads()));
  });
}

}  // namespace

int main() {
  using namespace dm;
  using namespace dm::flow_orchestrator;
  service::Runtime runtime({
      .name = "flow-orchestrator",
      .scope = "ORCHESTRATOR",
      .schema = "orchestrator",
      .default_port = 8003,
      .migrations = &flow_orchestrator::migrations(),
      .public_api = false,
  });
  OrchestratorConfig cfg;
  std::unique_ptr<View> view;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<service::DeadLetterBox> dead_letters;
  std::unique_ptr<Processor> processor;
  std::unique_ptr<service::RpcServer> rpc;
  return runtime.main([&](Config& config) { cfg = read_config(config); },
                      [&](service::Runtime& rt) -> Result<void> {
                        view = std::make_unique<View>(rt.rpc(), rt.nats(), cfg.reload_interval);
                        DM_TRY(view->start());
                        engine = std::make_unique<Engine>(rt.rpc(), rt.nats(), cfg.engine);
                        dead_letters = std::make_unique<service::DeadLetterBox>(rt.db(), rt.nats(), kDeadLetterKind);
                        processor = std::make_unique<Processor>(cfg.processor, rt.nats(), rt.db(), *view, *engine,
                                                                *dead_letters, rt.metrics());
                        DM_TRY(processor->start());

                        // History routes are served over NATS to the gateway, not on the orchestrator's port.
                        auto api = std::make_shared<http::Router>();
                        add_history_routes(*api, rt.db());
                        add_function_history_routes(*api, rt.db());
                        add_simulate_route(*api, rt.rpc(), *view,
                                           {.function_timeout_ms = cfg.engine.walker.function_timeout_ms,
                                            .max_depth = cfg.engine.walker.max_depth});
                        add_replay_route(*api, rt.rpc(), rt.nats(), rt.db(), *view, *engine);
                        dead_letters->add_routes(*api, [&rt, &view, &engine](const service::StoredDeadLetter& letter) {
                          return retry_uplink({rt.nats(), rt.db(), *view, *engine}, letter);
                        });
                        DM_ASSIGN_OR_RETURN(rpc, service::serve_rpc(rt, api));

                        watch(rt, *view, *processor);
                        rt.on_shutdown([&] {
                          rpc->stop();
                          processor->stop();
                          view->stop();
                        });
                        log::info("flow-orchestrator ready",
                                  {{"fetch_batch", cfg.processor.fetch_batch}, {"lanes", cfg.processor.lanes}});
                        return ok();
                      });
}
