#pragma once
// The uplink consumer: a durable pull consumer `flow-orchestrator` on DM_DEVICE_EVENTS
// (filter dm.device.*.up), shared by every replica. One fetcher thread queues the uplinks;
// LANES worker threads (the lanes) take them in batches (batches.hpp): one lane at a time
// collects, waiting up to LANE_LINGER for more uplinks and taking what is queued (up to
// FETCH_BATCH) of devices that have no batch running, so one device's uplinks run in arrival
// order and never in two lanes at once, and a slow function holds up only the lane running it.
// A lane runs its batch through its flows together (Engine::run_all), hands it to the recorder
// and collects again. The recorder writes whatever the lanes handed it in one statement,
// publishes flow-completed events and acks (bounded: a lane waits while LANES × LANE_QUEUE
// uplinks wait to be recorded). The queue is bounded too (LANES × LANE_QUEUE): the fetcher
// waits when it is full.
//
// Nothing accepted jams the lanes:
// - An uplink whose flows could not run (runner or JetStream unavailable) is nakked with a
//   growing delay, together with that device's later uplinks until it comes back; after
//   MAX_DELIVERIES deliveries it gives up and becomes a dead letter (kind `uplinks`).
// - An uplink that cannot be read, or whose run PostgreSQL refuses for its data (isolated
//   from the other runs of its transaction by bisection), becomes a dead letter at once.
// - While PostgreSQL is down the recorder keeps what the lanes ran and writes it again with
//   a capped backoff (the messages kept alive meanwhile); the lanes wait for it, and /readyz
//   says why. Nothing runs twice for a database outage.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "batches.hpp"
#include "dm/bus/bus.hpp"
#include "dm/core/outage.hpp"
#include "dm/db/db.hpp"
#include "dm/metrics/metrics.hpp"
#include "dm/service/dead_letters.hpp"
#include "dm/service/message_parts.hpp"
#include "engine.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {

inline constexpr const char* kDeadLetterKind = "uplinks";

struct ProcessorOptions {
  int fetch_batch = 128;                        // uplinks per fetch, and at most per lane batch
  int lanes = 4;                                // batches in flight at once, each for its own devices
  int lane_queue = 256;                         // × lanes: uplinks queued before the fetcher waits
  std::chrono::milliseconds retry_delay{2000};  // first nak delay when the flows could not run; doubles
  std::chrono::milliseconds max_retry_delay{60000};
  int max_deliveries = 20;  // an uplink handed back this often becomes a dead letter
  // The recorder waits this long after a transaction before the next, so that a steady flow
  // is written in fewer, larger transactions (only the acks wait; deliveries are queued).
  std::chrono::milliseconds record_linger{100};
  std::chrono::milliseconds lane_linger{15};  // the collecting lane's wait for more uplinks
  int retention_days = 30;
};

// The nak delay after the `delivered`-th delivery: first, doubling, at most cap.
std::chrono::milliseconds retry_delay(int delivered, std::chrono::milliseconds first, std::chrono::milliseconds cap);

class Processor {
 public:
  Processor(ProcessorOptions options, bus::Connection& nats, db::Pool& db, View& view, Engine& engine,
            service::DeadLetterBox& dead, metrics::Registry& metrics);
  ~Processor();
  Result<void> start();
  // Stops fetching, lets each lane finish the batch in hand and hands queued uplinks back.
  void stop();
  std::size_t queued() const;  // uplinks waiting in lanes (a gauge)
  Result<void> health() const { return outage_.health(); }

 private:
  struct Item;
  struct Ran;
  void fetch_loop();
  void lane_loop();
  void process(std::vector<service::MessagePart> messages);
  void retry_deferred(Ran& ran);
  bool is_held(const std::string& subject, std::chrono::steady_clock::time_point now);
  void hold_back(std::vector<Item>& items, std::chrono::steady_clock::time_point t0);
  void hand_over(std::unique_ptr<Ran> ran);
  std::size_t record_room() const;
  void record_loop();
  // Records, dead-letters, announces and acks; false on an outage (then `work` is kept).
  bool record(std::vector<std::unique_ptr<Ran>>& work);
  void give_up(std::vector<std::unique_ptr<Ran>>& work);
  bool write_runs_of(std::vector<std::unique_ptr<Ran>>& work, std::vector<const Run*>& written);
  bool bury(std::vector<std::unique_ptr<Ran>>& work);
  void settle(std::vector<std::unique_ptr<Ran>>& work, const std::vector<const Run*>& written);
  void wait_out(std::vector<std::unique_ptr<Ran>>& work, std::chrono::milliseconds delay);
  void observe_phase(const char* phase, std::chrono::steady_clock::duration took);
  void prepare(Item& item, std::vector<RunJob>& jobs);
  void housekeeping();

  ProcessorOptions options_;
  bus::Connection& nats_;
  db::Pool& db_;
  View& view_;
  Engine& engine_;
  service::DeadLetterBox& dead_;
  metrics::Registry& metrics_;
  Outage outage_{"flow history"};
  std::unique_ptr<bus::PullConsumer> consumer_;
  service::FetchSize fetch_size_{options_.fetch_batch};  // FETCH_BATCH uplinks, in batches
  std::unique_ptr<Batches<service::MessagePart>> batches_;
  std::vector<std::thread> workers_;  // the lanes: each runs one batch at a time
  // Devices (by subject) whose uplink was handed back for a retry: their later uplinks follow
  // it back until it is due again, so they do not overtake it.
  std::mutex held_mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> held_;
  std::thread fetcher_;
  std::thread recorder_;
  std::mutex record_mu_;
  std::condition_variable has_record_;   // the recorder waits for ran batches
  std::condition_variable record_room_;  // a lane waits for the recorder
  std::deque<std::unique_ptr<Ran>> to_record_;
  std::size_t recording_uplinks_ = 0;  // uplinks handed to the recorder and not acked yet
  bool recorder_stop_ = false;
  std::atomic<bool> running_{false};
  std::chrono::steady_clock::time_point last_purge_{};
};

}  // namespace dm::flow_orchestrator
