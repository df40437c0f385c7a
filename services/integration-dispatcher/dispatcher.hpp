#pragma once
// The delivery engine: pulls jobs from DM_DISPATCH, queues them per target (a slow target only
// holds up itself), attempts them within each target's concurrency limit and circuit breaker,
// hands each outcome to the Recorder and, only once it is recorded, acks the job (delivered,
// failed, dead-lettered) or naks it with a growing delay (retrying). See README.md.
//
// dispatcher.cpp: the stream, admission of fetched jobs, per-target queues and attempts.
// settle.cpp: what an outcome does to the target (breaker, limit), the job's next state, its
// record, and the acks and taps once it is recorded.
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
#include "dm/service/message_parts.hpp"
#include "http_sender.hpp"
#include "model.hpp"
#include "mqtt_sender.hpp"
#include "pacing.hpp"
#include "recorder.hpp"
#include "storage_writer.hpp"
#include "targets.hpp"

namespace dm::dispatcher {

struct Settings {
  int max_attempts = 5;
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_cap{60000};
  int breaker_threshold = 5;
  std::chrono::milliseconds breaker_cooldown{10000};       // the longest cool-down
  std::chrono::milliseconds breaker_first_cooldown{1000};  // the first, doubling up to the longest
  int workers = 16;
  int http_concurrency = 8;        // attempts in flight per HTTP target at first, and at least
  int http_max_concurrency = 256;  // at most, however well the target keeps up
  int mqtt_in_flight = 1000;       // unacknowledged publishes per MQTT target
  int fetch_batch = 256;
  std::size_t max_pending = 20000;      // jobs held in memory overall (queued, in flight, recording)
  std::size_t max_target_queue = 2000;  // per target; beyond it jobs are handed back (nak)
  // A job older than this (since the stream stored it) that cannot be attempted or is due for
  // a retry is dead-lettered: an open breaker cannot hold a job for an hour.
  std::chrono::milliseconds max_job_age{std::chrono::minutes(15)};
  int history_retention_days = 30;
  // How long JetStream waits for an ack before redelivering: bounds how late the jobs a
  // crashed replica held come back. Jobs held here are kept alive (in-progress) meanwhile.
  std::chrono::milliseconds ack_wait{60000};
};

// Runs one attempt of a job against a target; `done` once. HTTP attempts return at once (the
// HTTP client's I/O thread does the exchange); MQTT and storages may block their thread a while.
class Attempter {
 public:
  Attempter(HttpSender& http, MqttSender& mqtt, StorageWriter& storages)
      : http_(http), mqtt_(mqtt), storages_(storages) {}
  void attempt(const Target& target, const Job& job, int attempt,
               const std::function<void(Outcome, bool internal)>& done);
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
  struct Decision;
  // A job handed back to the stream (full queue, open breaker) or scheduled for a retry: when
  // its message comes back with the very next delivery count, nobody attempted it meanwhile,
  // so its attempts are known without asking the database. By the message's stream sequence
  // and the job's place in it.
  struct HandedBack {
    int delivered = 0;
    int attempts = 0;
    std::optional<std::string> last_error;
    SteadyClock::time_point at;
  };

  // dispatcher.cpp
  void fetch_loop();
  void admit(std::vector<service::MessagePart> parts);
  std::vector<std::shared_ptr<Work>> read_jobs(std::vector<service::MessagePart>& parts);
  bool known_here(Work& work);
  bool look_up(const std::vector<std::shared_ptr<Work>>& works);
  void route(std::shared_ptr<Work> work);
  void hand_back(const std::shared_ptr<Work>& work, std::chrono::milliseconds delay, const std::string& why,
                 bool attempts_known = true);
  void pump(const std::string& target_id);
  void execute(std::shared_ptr<Work> work);
  void attempt(const std::shared_ptr<Work>& work, std::shared_ptr<const Target> target);
  void abandon(const std::shared_ptr<Work>& work, std::chrono::milliseconds delay, const std::string& why);
  TargetState& state_locked(const std::string& target_id);
  void track_locked(const std::shared_ptr<Work>& work);
  void untrack_locked(const Work& work);
  void untrack(const Work& work);
  void housekeeping();
  std::chrono::milliseconds jitter(std::chrono::milliseconds d);

  // settle.cpp
  void finish(std::shared_ptr<Work> work, Outcome outcome, bool internal);
  void settle_target(const Work& work, const Outcome& outcome);
  Decision decide(const Work& work, Outcome& outcome);
  void expire(const std::shared_ptr<Work>& work, const std::string& why);
  void dead_letter_now(const std::shared_ptr<Work>& work, std::string error);
  void record(const std::shared_ptr<Work>& work, contract::DeliveryStatus status, Outcome outcome, int attempt,
              std::optional<std::chrono::milliseconds> delay, bool internal);
  void recorded(const std::shared_ptr<Work>& work, Record& record, std::optional<std::chrono::milliseconds> delay,
                bool committed);
  void remember_finished(const std::string& job_id);

  Settings settings_;
  bus::Connection& nats_;
  db::Pool& db_;
  TargetCache& targets_;
  Attempter& attempter_;
  Recorder& recorder_;
  std::unique_ptr<ThreadPool> workers_;
  std::unique_ptr<bus::PullConsumer> consumer_;
  service::FetchSize fetch_size_{settings_.fetch_batch};  // jobs, whatever the jobs per message
  std::thread fetcher_;
  std::atomic<bool> running_{false};

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<TargetState>> states_;
  // Every job held in this process (queued, in flight, being recorded), by job id: kept alive
  // in JetStream while held, and a second message for one of them is not attempted alongside.
  std::unordered_map<std::string, std::shared_ptr<Work>> live_;
  std::map<std::pair<std::uint64_t, std::size_t>, HandedBack> handed_back_;
  // Jobs finished recently (bounded, oldest forgotten first): a job published again is caught
  // here without a database lookup; redelivered jobs are also looked up in the history.
  std::unordered_set<std::string> recent_;
  std::deque<std::string> recent_order_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::uint64_t> delivered_{0}, retried_{0}, failed_{0}, dead_{0};
  std::mt19937_64 rng_{std::random_device{}()};
  SteadyClock::time_point last_prune_{};
};

// The delivery-result tap (proto/schemas/delivery-result.schema.json).
std::string delivery_result_json(const Job& job, contract::DeliveryStatus status, int attempt, const Outcome& o,
                                 std::optional<std::chrono::milliseconds> next_in);

}  // namespace dm::dispatcher
