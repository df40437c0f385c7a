#include "processor.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "dm/contract/streams.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/db/batch.hpp"
#include "dm/service/consumer.hpp"
#include "history.hpp"

namespace dm::flow_orchestrator {

struct Processor::Item {
  service::MessagePart* msg = nullptr;
  std::optional<Uplink> uplink;
  std::vector<std::size_t> jobs;    // indexes into the batch's RunJobs
  bool retry = false;               // flows could not run: hand the uplink back
  bool follows = false;             // handed back only to stay behind an earlier uplink of its device
  std::string retry_reason;         // why it is handed back (kept with it if it gives up)
  std::optional<std::string> dead;  // leaves the pipeline as a dead letter, for this reason
};

std::chrono::milliseconds retry_delay(int delivered, std::chrono::milliseconds first, std::chrono::milliseconds cap) {
  auto delay = first;
  for (int i = 1; i < delivered && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

// A lane batch whose flows ran and whose deliveries are queued, waiting to be recorded and acked.
struct Processor::Ran {
  std::vector<service::MessagePart> messages;
  std::vector<Item> items;  // items[i].msg is &messages[i]
  std::vector<RunJob> jobs;
  std::chrono::steady_clock::time_point started;
};

Processor::Processor(ProcessorOptions options, bus::Connection& nats, db::Pool& db, View& view, Engine& engine,
                     service::DeadLetterBox& dead, metrics::Registry& metrics)
    : options_(options), nats_(nats), db_(db), view_(view), engine_(engine), dead_(dead), metrics_(metrics) {
  if (options_.lanes < 1) options_.lanes = 1;
  if (options_.lane_queue < 1) options_.lane_queue = 1;
  batches_ = std::make_unique<Batches<service::MessagePart>>(
      static_cast<std::size_t>(options_.lanes) * static_cast<std::size_t>(options_.lane_queue),
      static_cast<std::size_t>(std::max(options_.fetch_batch, 1)), options_.lane_linger,
      static_cast<std::size_t>(options_.lanes));
}

Processor::~Processor() { stop(); }

Result<void> Processor::start() {
  // The stream and the consumer (an uplink is never dropped by the server: we decide when it
  // is done) are provisioning's (contract::consumers); start-up waits for them a while.
  DM_ASSIGN_OR_RETURN(
      consumer_, service::bind_consumer(nats_.jetstream(), contract::kDeviceEventsStream, contract::kUplinkConsumer,
                                        contract::subject::kUplinkBatches, std::chrono::minutes(2)));
  running_ = true;
  recorder_ = std::thread([this] {
    name_this_thread("recorder");
    record_loop();
  });
  for (int i = 0; i < options_.lanes; ++i)
    workers_.emplace_back([this] {
      name_this_thread("lane");
      lane_loop();
    });
  fetcher_ = std::thread([this] {
    name_this_thread("fetcher");
    fetch_loop();
  });
  return ok();
}

void Processor::stop() {
  if (!running_.exchange(false)) return;
  batches_->stop();
  if (fetcher_.joinable()) fetcher_.join();
  for (auto& worker : workers_)
    if (worker.joinable()) worker.join();
  // Uplinks still queued go back now instead of after ACK_WAIT.
  for (auto& m : batches_->drain()) (void)m.nak();
  // The lanes handed over their last batches: record and ack them before unsubscribing.
  {
    std::lock_guard lock(record_mu_);
    recorder_stop_ = true;
    has_record_.notify_all();
  }
  if (recorder_.joinable()) recorder_.join();
  // Unsubscribe now: a pull subscription left open holds up the connection's drain (10 s).
  consumer_.reset();
}

std::size_t Processor::queued() const { return batches_->size(); }

void Processor::fetch_loop() {
  while (running_) {
    housekeeping();
    // Without the registry view every uplink would match nothing: wait instead of recording that.
    if (!view_.loaded()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    auto uplinks =
        service::fetch_parts(*consumer_, fetch_size_, std::chrono::milliseconds(500), service::unpack_events);
    if (!uplinks) {
      if (uplinks.error().code != Errc::timeout) {
        log::warn("uplink fetch failed", {{"error", uplinks.error().message}});
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      continue;
    }
    for (auto& m : *uplinks) {
      // Backpressure: when the lanes cannot keep up the fetching stops instead of growing memory.
      switch (batches_->push(m)) {
        case Batches<service::MessagePart>::Pushed::queued:
          break;
        case Batches<service::MessagePart>::Pushed::waited:
          metrics_.counter("dm_orchestrator_lane_full_total", "Times the fetcher waited for room in the lanes.").inc();
          break;
        case Batches<service::MessagePart>::Pushed::stopping:
          (void)m.nak();  // stopping: let it go back at once
          break;
      }
    }
  }
}

void Processor::lane_loop() {
  while (true) {
    auto batch = batches_->take();
    if (batch.messages.empty()) return;  // stopping
    process(std::move(batch.messages));
    batches_->done(batch.claim);  // after hand_over: the recorder keeps the device's order too
  }
}

// Reads the uplink and adds a RunJob per matching flow not recorded yet.
void Processor::prepare(Item& item, std::vector<RunJob>& jobs) {
  auto uplink = read_uplink(item.msg->data(), view_);
  if (!uplink) {
    item.dead = "unreadable uplink: " + uplink.error().message;
    return;
  }
  item.uplink = std::move(uplink).value();
  auto device = view_.device(item.uplink->dev_eui);
  static const std::vector<std::string> kNoLabels;
  auto triggers = view_.triggers(item.uplink->device_id, device ? device->label_ids : kNoLabels);
  if (triggers.empty()) return;
  // A redelivered uplink may have been recorded before the crash that lost its ack.
  std::unordered_set<std::string> done;
  if (item.msg->delivered() > 1) {
    std::vector<std::string> keys;
    for (const auto& t : triggers) keys.push_back(run_key(t.flow->id, item.uplink->dedup_id));
    if (auto looked = recorded_runs(db_, keys, done); !looked) {
      item.retry = true;
      item.retry_reason = "flow history unavailable: " + looked.error().message;
      return;
    }
  }
  std::unordered_set<std::string> started;  // a flow with two triggers for this device runs once
  for (const auto& t : triggers) {
    auto key = run_key(t.flow->id, item.uplink->dedup_id);
    if (done.count(key) || !started.insert(key).second) continue;
    item.jobs.push_back(jobs.size());
    RunJob job;
    job.uplink = &*item.uplink;
    job.flow = t.flow;
    job.trigger = t.node;
    job.repeat = item.msg->delivered() > 1;
    jobs.push_back(std::move(job));
  }
}

void Processor::process(std::vector<service::MessagePart> messages) {
  auto t0 = std::chrono::steady_clock::now();
  auto ran = std::make_unique<Ran>();
  ran->started = t0;
  ran->messages = std::move(messages);  // the items point into it: it never moves again
  auto& batch = ran->messages;
  auto& items = ran->items;
  items.resize(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    items[i].msg = &batch[i];
    if (is_held(batch[i].name(), t0)) {
      items[i].retry = items[i].follows = true;  // an earlier uplink of this device is due first
      items[i].retry_reason = "waits for an earlier uplink of its device";
      continue;
    }
    prepare(items[i], ran->jobs);
  }
  engine_.run_all(ran->jobs);
  observe_phase("run", std::chrono::steady_clock::now() - t0);
  retry_deferred(*ran);
  hold_back(items, t0);
  hand_over(std::move(ran));
}

// An uplink with a deferred run is handed back whole (its recorded runs would be partial).
void Processor::retry_deferred(Ran& ran) {
  for (auto& item : ran.items) {
    for (std::size_t j : item.jobs) {
      const RunJob& job = ran.jobs[j];
      if (!job.deferred) continue;
      if (!item.retry) {
        log::warn("flow run deferred",
                  {{"flow", job.run.flow_id}, {"dev_eui", job.run.dev_eui}, {"error", job.deferred_reason}});
        item.retry_reason = job.deferred_reason;
      }
      item.retry = true;
    }
  }
}

// One device's order: after an uplink that is handed back, its later uplinks go back too
// (their deliveries, if queued, carry the same job ids when they run again).
bool Processor::is_held(const std::string& subject, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(held_mu_);
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second <= now)
      it = held_.erase(it);
    else
      ++it;
  }
  return held_.count(subject) > 0;
}

void Processor::hold_back(std::vector<Item>& items, std::chrono::steady_clock::time_point t0) {
  std::unordered_set<std::string> held_back;
  for (auto& item : items) {
    const std::string& subject = item.msg->name();
    if (held_back.count(subject)) {
      item.retry = item.follows = true;
      if (item.retry_reason.empty()) item.retry_reason = "waits for an earlier uplink of its device";
    } else if (item.retry) {
      held_back.insert(subject);
      // Until just before it is redelivered, this device's next uplinks follow it back.
      if (!item.follows) {
        std::lock_guard lock(held_mu_);
        held_.emplace(subject, t0 + options_.retry_delay * 9 / 10);
      }
    }
  }
}

// Bounded like the lanes: at most LANES × LANE_QUEUE uplinks wait to be recorded.
std::size_t Processor::record_room() const {
  return static_cast<std::size_t>(options_.lanes) * static_cast<std::size_t>(options_.lane_queue);
}

// Recording, announcing and acking go to the recorder, so the lane runs its next uplinks
// meanwhile. Their delivery jobs are queued already, in order.
void Processor::hand_over(std::unique_ptr<Ran> ran) {
  const std::size_t uplinks = ran->messages.size();
  const auto most = record_room();
  std::unique_lock lock(record_mu_);
  auto room = [&] { return recording_uplinks_ == 0 || recording_uplinks_ + uplinks <= most; };
  if (!room()) {
    metrics_.counter("dm_orchestrator_record_full_total", "Times a lane waited for the recorder.").inc();
    record_room_.wait(lock, room);
  }
  recording_uplinks_ += uplinks;
  to_record_.push_back(std::move(ran));
  has_record_.notify_one();
}

void Processor::record_loop() {
  while (true) {
    std::vector<std::unique_ptr<Ran>> work;
    {
      std::unique_lock lock(record_mu_);
      has_record_.wait(lock, [&] { return recorder_stop_ || !to_record_.empty(); });
      if (to_record_.empty()) return;  // stopping, and everything is recorded
      while (!to_record_.empty()) {
        work.push_back(std::move(to_record_.front()));
        to_record_.pop_front();
      }
    }
    // An outage keeps the batches in hand (the lanes wait for room meanwhile): what ran is
    // written when the database is back instead of being run again.
    while (!record(work)) {
      bool stopping;
      {
        std::lock_guard lock(record_mu_);
        stopping = recorder_stop_;
      }
      if (stopping) {
        for (auto& ran : work)
          for (auto& item : ran->items) (void)item.msg->nak();
        break;
      }
    }
    outage_.recovered();
    std::unique_lock lock(record_mu_);
    for (const auto& ran : work) recording_uplinks_ -= ran->messages.size();
    record_room_.notify_all();
    // A commit costs PostgreSQL far more than a row, and nobody waits for the history but the
    // acks: at low rates linger long so the trickle becomes a few transactions; under load stop
    // lingering once half the room is taken, before the lanes would have to wait.
    has_record_.wait_for(lock, options_.record_linger,
                         [&] { return recorder_stop_ || recording_uplinks_ >= record_room() / 2; });
  }
}

bool Processor::record(std::vector<std::unique_ptr<Ran>>& work) {
  give_up(work);
  std::vector<const Run*> written;
  auto t0 = std::chrono::steady_clock::now();
  if (!write_runs_of(work, written)) return false;
  observe_phase("record", std::chrono::steady_clock::now() - t0);
  if (!bury(work)) return false;
  settle(work, written);
  return true;
}

// Uplinks handed back too often leave the pipeline instead of cycling through it forever.
void Processor::give_up(std::vector<std::unique_ptr<Ran>>& work) {
  for (auto& ran : work)
    for (auto& item : ran->items)
      if (item.retry && !item.dead && item.msg->delivered() >= options_.max_deliveries)
        item.dead = "gave up after " + std::to_string(item.msg->delivered()) + " deliveries: " + item.retry_reason;
}

// Whatever the lanes finished meanwhile goes into one transaction (fewer, bigger writes); a run
// the database refuses is isolated and its uplink dead-lettered. `written` gets the runs stored.
bool Processor::write_runs_of(std::vector<std::unique_ptr<Ran>>& work, std::vector<const Run*>& written) {
  std::vector<const Run*> runs;
  std::vector<Item*> owners;
  for (auto& ran : work)
    for (auto& item : ran->items)
      if (!item.retry && !item.dead)
        for (std::size_t j : item.jobs) {
          runs.push_back(&ran->jobs[j].run);
          owners.push_back(&item);
        }
  auto result = db::write_isolating(runs.size(), [&](std::size_t first, std::size_t last) {
    return write_runs(
        db_, std::vector<const Run*>(runs.begin() + static_cast<long>(first), runs.begin() + static_cast<long>(last)));
  });
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (result.fate[i] == db::RowFate::written) written.push_back(runs[i]);
    if (result.fate[i] == db::RowFate::refused)
      owners[i]->dead = "run of flow " + runs[i]->flow_id + " refused by the database: " + result.refused.at(i).message;
  }
  if (!result.outage) return true;
  wait_out(work, outage_.failed(*result.outage));
  return false;
}

bool Processor::bury(std::vector<std::unique_ptr<Ran>>& work) {
  std::vector<service::DeadLetter> letters;
  for (auto& ran : work)
    for (auto& item : ran->items)
      if (item.dead) {
        std::string key = item.uplink ? "up:" + item.uplink->dedup_id
                                      : "seq:" + std::to_string(item.msg->stream_sequence()) + ":" +
                                            std::to_string(item.msg->index());
        letters.push_back({key, item.msg->name(), std::string(item.msg->data()), *item.dead, item.msg->delivered()});
      }
  if (letters.empty()) return true;
  if (auto added = dead_.add(letters); !added) {
    wait_out(work, outage_.failed(added.error()));
    return false;
  }
  metrics_.counter("dm_orchestrator_dead_letters_total", "Uplinks that left the pipeline as dead letters.")
      .inc(letters.size());
  return true;
}

// Announces the recorded runs, then acks what is done and hands back what must run again.
void Processor::settle(std::vector<std::unique_ptr<Ran>>& work, const std::vector<const Run*>& written) {
  for (const Run* r : written)
    metrics_.counter("dm_orchestrator_runs_total", "Flow runs recorded.", "status=\"" + r->status + "\"").inc();
  announce_runs(nats_, written);
  auto now = std::chrono::steady_clock::now();
  for (auto& ran : work) {
    for (auto& item : ran->items) {
      if (item.retry && !item.dead) {
        metrics_.counter("dm_orchestrator_uplinks_deferred_total", "Uplinks handed back for a later attempt.").inc();
        (void)item.msg->nak(retry_delay(item.msg->delivered(), options_.retry_delay, options_.max_retry_delay));
      } else {
        (void)item.msg->ack();
      }
    }
    metrics_.counter("dm_orchestrator_uplinks_total", "Uplinks processed.").inc(ran->messages.size());
    metrics_.histogram("dm_orchestrator_batch_seconds", "Time from taking a lane batch until it was acked.")
        .observe(std::chrono::duration<double>(now - ran->started).count());
  }
}

// Waits `delay` before writing again; the messages in hand are kept from being redelivered
// meanwhile (an outage may outlast the consumer's ack wait).
void Processor::wait_out(std::vector<std::unique_ptr<Ran>>& work, std::chrono::milliseconds delay) {
  for (auto& ran : work)
    for (auto& m : ran->messages) (void)m.in_progress();
  std::unique_lock lock(record_mu_);
  has_record_.wait_for(lock, delay, [&] { return recorder_stop_; });
}

void Processor::observe_phase(const char* phase, std::chrono::steady_clock::duration took) {
  metrics_
      .histogram("dm_orchestrator_phase_seconds",
                 "Time to run a lane batch's flows (run) and to record a transaction of runs (record).",
                 std::string("phase=\"") + phase + "\"")
      .observe(std::chrono::duration<double>(took).count());
}

void Processor::housekeeping() {
  auto now = std::chrono::steady_clock::now();
  if (last_purge_ != std::chrono::steady_clock::time_point{} && now - last_purge_ < std::chrono::hours(1)) return;
  last_purge_ = now;
  if (auto purged = purge_runs(db_, options_.retention_days); !purged)
    log::warn("flow history purge failed", {{"error", purged.error().message}});
  else if (*purged > 0)
    log::info("flow history purged", {{"rows", static_cast<unsigned long>(*purged)}});
}

}  // namespace dm::flow_orchestrator
