#include "processor.hpp"

#include <unordered_set>

#include "dm/core/log.hpp"
#include "history.hpp"

namespace dm::flow_orchestrator {

struct Processor::Item {
  bus::JsMessage* msg = nullptr;
  std::optional<Uplink> uplink;
  std::vector<std::size_t> jobs;  // indexes into the batch's RunJobs
  bool retry = false;             // flows could not run: hand the uplink back
};

Processor::Processor(ProcessorOptions options, bus::Connection& nats, db::Pool& db, View& view, Engine& engine,
                     metrics::Registry& metrics)
    : options_(options), nats_(nats), db_(db), view_(view), engine_(engine), metrics_(metrics) {}

Processor::~Processor() { stop(); }

Result<void> Processor::start() {
  auto& js = nats_.jetstream();
  // Ingest owns the stream's settings; we only create it (with ingest's defaults) when it does
  // not exist yet, so either service may start first without overwriting the other's config.
  if (auto state = js.stream_state(kStream); !state) {
    if (state.error().code != Errc::not_found) return state.take_error();
    bus::StreamConfig sc;
    sc.name = kStream;
    sc.subjects = {"dm.device.>"};
    sc.discard_new = true;
    sc.duplicate_window = std::chrono::minutes(2);
    sc.max_age = std::chrono::hours(24 * 7);
    sc.max_bytes = 10LL << 30;
    DM_TRY(js.ensure_stream(sc));
  }
  // The dispatcher's work stream, with the dispatcher's settings, if it is not there yet:
  // delivery jobs then wait in it for a dispatcher instead of holding up the uplinks.
  if (auto state = js.stream_state(kDispatchStream); !state) {
    if (state.error().code != Errc::not_found) return state.take_error();
    bus::StreamConfig dc;
    dc.name = kDispatchStream;
    dc.subjects = {"dm.work.dispatch.>"};
    dc.duplicate_window = std::chrono::seconds(120);
    DM_TRY(js.ensure_stream(dc));
  }
  bus::ConsumerConfig cc;
  cc.durable = kConsumer;
  cc.filter_subject = "dm.device.*.up";
  cc.ack_wait = options_.ack_wait;
  cc.max_deliver = -1;  // an uplink is never dropped by the server; we decide when it is done
  cc.max_ack_pending = 20000;
  DM_TRY(js.ensure_consumer(kStream, cc));
  DM_ASSIGN_OR_RETURN(consumer_, js.pull_subscribe(kStream, kConsumer, "dm.device.*.up"));
  running_ = true;
  thread_ = std::thread([this] { loop(); });
  return ok();
}

void Processor::stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
}

void Processor::loop() {
  while (running_) {
    housekeeping();
    // Without the registry view every uplink would match nothing: wait instead of recording that.
    if (!view_.loaded()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    auto batch = consumer_->fetch(options_.fetch_batch, std::chrono::milliseconds(500));
    if (!batch) {
      if (batch.error().code != Errc::timeout) {
        log::warn("uplink fetch failed", {{"error", batch.error().message}});
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      continue;
    }
    if (!batch->empty()) process(*batch);
  }
}

// Reads the uplink and adds a RunJob per matching flow not recorded yet.
void Processor::prepare(Item& item, std::vector<RunJob>& jobs) {
  auto uplink = read_uplink(item.msg->data(), view_);
  if (!uplink) {
    log::warn("unreadable uplink skipped", {{"subject", item.msg->subject()}, {"error", uplink.error().message}});
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
    if (!recorded_runs(db_, keys, done)) {
      item.retry = true;
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
    jobs.push_back(std::move(job));
  }
}

void Processor::process(std::vector<bus::JsMessage>& batch) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Item> items(batch.size());
  std::vector<RunJob> jobs;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    items[i].msg = &batch[i];
    prepare(items[i], jobs);
  }
  engine_.run_all(jobs);
  for (auto& item : items) {
    for (std::size_t j : item.jobs) {
      if (!jobs[j].deferred) continue;
      if (!item.retry)
        log::warn(
            "flow run deferred",
            {{"flow", jobs[j].run.flow_id}, {"dev_eui", jobs[j].run.dev_eui}, {"error", jobs[j].deferred_reason}});
      item.retry = true;
    }
  }
  // One device's order: after an uplink that is handed back, its later uplinks go back too
  // (their deliveries, if queued, carry the same job ids when they run again).
  std::unordered_set<std::string> held_back;
  for (auto& item : items) {
    const std::string& subject = item.msg->subject();
    if (held_back.count(subject))
      item.retry = true;
    else if (item.retry)
      held_back.insert(subject);
  }

  std::vector<const Run*> runs;
  for (const auto& item : items)
    if (!item.retry)
      for (std::size_t j : item.jobs) runs.push_back(&jobs[j].run);
  if (auto written = write_runs(db_, runs); !written) {
    log::warn("flow history not written; uplinks will be redelivered", {{"error", written.error().message}});
    for (auto& m : batch) (void)m.nak(options_.retry_delay);
    return;
  }
  for (const Run* r : runs) {
    metrics_.counter("dm_orchestrator_runs_total", "Flow runs recorded.", "status=\"" + r->status + "\"").inc();
    if (auto p = nats_.publish("dm.flow.completed." + r->flow_id, completed_json(*r)); !p)
      log::warn("flow-completed event not published", {{"flow", r->flow_id}, {"error", p.error().message}});
  }
  for (auto& item : items) {
    if (item.retry) {
      metrics_.counter("dm_orchestrator_uplinks_deferred_total", "Uplinks handed back for a later attempt.").inc();
      (void)item.msg->nak(options_.retry_delay);
    } else {
      (void)item.msg->ack();
    }
  }
  metrics_.counter("dm_orchestrator_uplinks_total", "Uplinks processed.").inc(batch.size());
  metrics_.histogram("dm_orchestrator_batch_seconds", "Time to process one fetched batch.")
      .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
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
