#pragma once
// The uplink consumer: a durable pull consumer `flow-orchestrator` on DM_DEVICE_EVENTS
// (filter dm.device.*.up), shared by every replica. One fetcher thread hands each uplink to a
// lane chosen by its DevEUI (lane_of), so one device's uplinks always go through the same lane
// in arrival order; lanes run independently, so a slow function only delays its own lane.
// A lane takes what is queued (up to FETCH_BATCH) and runs it through its flows together
// (Engine::run_all), writes the runs in one transaction, publishes flow-completed events and
// acks. An uplink whose flows could not run (runner or JetStream unavailable) is nakked with a
// delay, together with that device's later uplinks until it comes back. Lane queues are bounded:
// the fetcher waits when one is full.
#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

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
  int fetch_batch = 128;                        // uplinks per fetch, and at most per lane batch
  int lanes = 4;                                // batches in flight at once, each for its own devices
  int lane_queue = 256;                         // uplinks waiting per lane before the fetcher waits
  std::chrono::milliseconds retry_delay{2000};  // nak delay when the flows could not run
  std::chrono::milliseconds ack_wait{60000};
  int retention_days = 30;
};

// The lane of a DevEUI: FNV-1a, stable across builds and replicas (tests rely on it).
std::size_t lane_of(std::string_view dev_eui, std::size_t lanes);
// The DevEUI token of `dm.device.<dev_eui>.<event>` (the whole subject if it has another shape).
std::string_view dev_eui_of(std::string_view subject);

class Processor {
 public:
  Processor(ProcessorOptions options, bus::Connection& nats, db::Pool& db, View& view, Engine& engine,
            metrics::Registry& metrics);
  ~Processor();
  Result<void> start();
  // Stops fetching, lets each lane finish the batch in hand and hands queued uplinks back.
  void stop();
  std::size_t queued() const;  // uplinks waiting in lanes (a gauge)

 private:
  struct Item;
  struct Lane;
  void fetch_loop();
  void lane_loop(Lane& lane);
  void process(Lane& lane, std::vector<bus::JsMessage>& batch);
  void prepare(Item& item, std::vector<RunJob>& jobs);
  void housekeeping();

  ProcessorOptions options_;
  bus::Connection& nats_;
  db::Pool& db_;
  View& view_;
  Engine& engine_;
  metrics::Registry& metrics_;
  std::unique_ptr<bus::PullConsumer> consumer_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::thread fetcher_;
  std::atomic<bool> running_{false};
  std::chrono::steady_clock::time_point last_purge_{};
};

}  // namespace dm::flow_orchestrator
