#pragma once
// The uplink consumer: a durable pull consumer `flow-orchestrator` on DM_DEVICE_EVENTS
// (filter dm.device.*.up), shared by every replica. Each fetched batch runs through its flows
// together (Engine::run_all: batched function calls, deliveries queued in arrival order).
// The batch's runs are written to history in one transaction, then flow-completed events are
// published and the uplinks acked. An uplink whose flows could not run (runner or JetStream
// unavailable) is nakked with a delay, together with that device's later uplinks in the batch.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/metrics/metrics.hpp"
#include "engine.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {

inline constexpr const char* kStream = "DM_DEVICE_EVENTS";
inline constexpr const char* kConsumer = "flow-orchestrator";
inline constexpr const char* kDispatchStream = "DM_DISPATCH";

struct ProcessorOptions {
  int fetch_batch = 128;                        // uplinks per fetch (and per history transaction)
  std::chrono::milliseconds retry_delay{2000};  // nak delay when the flows could not run
  std::chrono::milliseconds ack_wait{60000};
  int retention_days = 30;
};

class Processor {
 public:
  Processor(ProcessorOptions options, bus::Connection& nats, db::Pool& db, View& view, Engine& engine,
            metrics::Registry& metrics);
  ~Processor();
  Result<void> start();
  void stop();

 private:
  struct Item;
  void loop();
  void process(std::vector<bus::JsMessage>& batch);
  void prepare(Item& item, std::vector<RunJob>& jobs);
  void housekeeping();

  ProcessorOptions options_;
  bus::Connection& nats_;
  db::Pool& db_;
  View& view_;
  Engine& engine_;
  metrics::Registry& metrics_;
  std::unique_ptr<bus::PullConsumer> consumer_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::chrono::steady_clock::time_point last_purge_{};
};

}  // namespace dm::flow_orchestrator
