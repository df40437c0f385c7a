#pragma once
// The delivery engine: pulls jobs from DM_DISPATCH, queues them per target with a
// concurrency limit (a slow target only holds up itself), attempts them, records each
// outcome (batched), and only then acks (delivered, failed, dead-lettered) or naks with a
// growing delay (retrying). A circuit breaker pauses a target after consecutive failures.
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "dm/bus/bus.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/db/db.hpp"
#include "dm/metrics/metrics.hpp"
#include "http_sender.hpp"
#include "model.hpp"
#include "mqtt_sender.hpp"
#include "storage_writer.hpp"
#include "store.hpp"
#include "targets.hpp"

namespace dm::dispatcher {

inline constexpr const char* kStream = "DM_DISPATCH";
inline constexpr const char* kConsumer = "integration-dispatcher";

struct Settings {
  int max_attempts = 5;
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_cap{60000};
  int breaker_threshold = 5;
  std::chrono::milliseconds breaker_cooldown{30000};
  int workers = 16;
  int http_concurrency = 8;   // attempts in flight per HTTP target
  int mqtt_in_flight = 1000;  // unacknowledged publishes per MQTT target
  int fetch_batch = 256;
  std::size_t max_pending = 20000;      // jobs held in memory overall
  std::size_t max_target_queue = 2000;  // per target; beyond it jobs are handed back (nak)
  int history_retention_days = 30;
  // How long JetStream waits for an ack before redelivering: bounds how late the jobs a
  // crashed replica held come back. Queued jobs are kept alive (in-progress) meanwhile.
  std::chrono::milliseconds ack_wait{60000};
};

// Runs one attempt of a job against a target, on a worker thread; `done` once.
class Attempter {
 public:
  Attempter(HttpSender& http, MqttSender& mqtt, StorageWriter& storages)
      : http_(http), mqtt_(mqtt), storages_(storages) {}
  void attempt(const Target& target, const Job& job, int attempt, std::function<void(Outcome, bool internal)> done);
  void sweep() { mqtt_.sweep(); }

 private:
  HttpSender& http_;
  MqttSender& mqtt_;
  StorageWriter& storages_;
};

class Dispatcher {
 public:
  Dispatcher(Settings settings, bus::Connection& nats, db::Pool& db, TargetCache& targets, Attempter& attempter,
             Recorder& recorder);
  ~Dispatcher();
  Result<void> start();
  void stop();

  struct Stats {
    std::uint64_t delivered = 0, retried = 0, failed = 0, dead_lettered = 0;
    std::size_t pending = 0;
  };
  Stats stats() const;

 private:
  struct Work;
  struct TargetState;
  void fetch_loop();
  void route(std::shared_ptr<Work> work);
  void pump(const std::string& target_id);
  void execute(std::shared_ptr<Work> work);
  void finish(std::shared_ptr<Work> work, Outcome outcome, bool internal);
  void housekeeping();
  std::chrono::milliseconds jitter(std::chrono::milliseconds d);

  Settings settings_;
  bus::Connection& nats_;
  db::Pool& db_;
  TargetCache& targets_;
  Attempter& attempter_;
  Recorder& recorder_;
  std::unique_ptr<ThreadPool> workers_;
  std::unique_ptr<bus::PullConsumer> consumer_;
  std::thread fetcher_;
  std::atomic<bool> running_{false};

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<TargetState>> states_;
  std::unordered_map<std::string, int> paused_naks_;  // job id → deliveries that were no attempt
  // Jobs finished recently (bounded, oldest forgotten first): a job published again is caught
  // here without a database lookup; redelivered jobs are also looked up in `deliveries`.
  std::unordered_set<std::string> recent_;
  std::deque<std::string> recent_order_;
  void remember_finished(const std::string& job_id);
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::uint64_t> delivered_{0}, retried_{0}, failed_{0}, dead_{0};
  std::mt19937_64 rng_{std::random_device{}()};
  std::chrono::steady_clock::time_point last_prune_{};
};

// The delivery-result tap (proto/schemas/delivery-result.schema.json).
std::string delivery_result_json(const Job& job, const std::string& status, int attempt, const Outcome& o,
                                 std::optional<std::chrono::milliseconds> next_in);

}  // namespace dm::dispatcher
