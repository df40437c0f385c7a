#include "dispatcher.hpp"

#include "dm/api/query.hpp"
#include "dm/core/log.hpp"

namespace dm::dispatcher {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long stop() waits for attempts in flight: an HTTP attempt ends within its integration's
// timeout (10 s unless set), and deploy/ gives pods 45 s after SIGTERM.
constexpr auto kStopWait = std::chrono::seconds(35);

struct Dispatcher::Work {
  bus::JsMessage msg;
  std::shared_ptr<Job> job;
  int attempt = 1;
  std::shared_ptr<const Target> target;
  Clock::time_point touched = Clock::now();  // fetched, or last told in-progress
};

struct Dispatcher::TargetState {
  std::deque<std::shared_ptr<Work>> queue;
  int in_flight = 0;
  int limit = 8;
  int consecutive_failures = 0;
  Clock::time_point open_until{};  // circuit breaker open while now < open_until
  HandBackSchedule full;           // when jobs handed back for a full queue return
  bool reported_error = false;
  std::string last_error;
};

void Attempter::attempt(const Target& target, const Job& job, int attempt, std::function<void(Outcome, bool)> done) {
  if (std::holds_alternative<HttpTarget>(target.spec)) {
    return http_.deliver(target, job, attempt, [done](Outcome o) { done(std::move(o), false); });
  }
  if (std::holds_alternative<MqttTarget>(target.spec)) {
    return mqtt_.publish(target, job, [done](Outcome o) { done(std::move(o), false); });
  }
  if (std::holds_alternative<InternalStorage>(target.spec)) {
    Outcome o;
    o.delivered = true;  // the record is written with the history batch, in the same transaction
    return done(std::move(o), true);
  }
  if (std::holds_alternative<InfluxStorage>(target.spec)) {
    return storages_.write_influx(target, job, [done](Outcome o) { done(std::move(o), false); });
  }
  done(storages_.write_postgres(target, job), false);
}

Dispatcher::Dispatcher(Settings settings, bus::Connection& nats, db::Pool& db, TargetCache& targets,
                       Attempter& attempter, Recorder& recorder)
    : settings_(std::move(settings)),
      nats_(nats),
      db_(db),
      targets_(targets),
      attempter_(attempter),
      recorder_(recorder) {}

Dispatcher::~Dispatcher() { stop(); }

Result<void> Dispatcher::start() {
  auto& js = nats_.jetstream();
  bus::StreamConfig stream;
  stream.name = kStream;
  stream.subjects = {"dm.work.dispatch.>"};
  stream.duplicate_window = std::chrono::seconds(120);
  DM_TRY(js.ensure_stream(stream));
  bus::ConsumerConfig consumer;
  consumer.durable = kConsumer;
  consumer.ack_wait = settings_.ack_wait;
  // Attempts are counted and dead-lettered here; the server must never drop a job on its own.
  consumer.max_deliver = -1;
  consumer.max_ack_pending = static_cast<int>(settings_.max_pending);
  DM_TRY(js.ensure_consumer(kStream, consumer));
  DM_ASSIGN_OR_RETURN(consumer_, js.pull_subscribe(kStream, kConsumer, ""));
  workers_ = std::make_unique<ThreadPool>(static_cast<std::size_t>(settings_.workers), 1 << 20);
  running_ = true;
  fetcher_ = std::thread([this] { fetch_loop(); });
  return ok();
}

void Dispatcher::stop() {
  if (!running_.exchange(false)) return;
  if (fetcher_.joinable()) fetcher_.join();
  // Queued jobs that never started go back to the stream at once (nak without delay, not an
  // attempt), so another replica takes them now rather than after the ack wait.
  std::vector<std::shared_ptr<Work>> queued;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, st] : states_) {
      for (auto& w : st->queue) {
        ++paused_naks_[w->job->job_id];
        queued.push_back(std::move(w));
      }
      st->queue.clear();
    }
  }
  for (auto& w : queued) {
    (void)w->msg.nak();
    --pending_;
  }
  // Attempts in flight answer on other threads (HTTP client, MQTT acks): wait until they are
  // recorded and acked (the Recorder still runs), since a job sent but not recorded would be
  // sent again by the replica that gets it next. Bounded by the longest attempt timeout.
  auto deadline = Clock::now() + kStopWait;
  while (pending_.load() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(20));
  if (pending_.load() > 0)
    log::warn("stopping with attempts in flight", {{"attempts", static_cast<std::int64_t>(pending_.load())}});
  if (workers_) workers_->stop();
  // Unsubscribe now: a pull subscription left open holds up the connection's drain.
  consumer_.reset();
}

Dispatcher::Stats Dispatcher::stats() const {
  return {delivered_.load(), retried_.load(), failed_.load(), dead_.load(), pending_.load()};
}

milliseconds Dispatcher::jitter(milliseconds d) {
  std::lock_guard lock(mutex_);
  std::uniform_real_distribution<double> u(0.8, 1.2);
  return milliseconds(static_cast<std::int64_t>(static_cast<double>(d.count()) * u(rng_)));
}

void Dispatcher::fetch_loop() {
  auto last_housekeeping = Clock::now();
  while (running_) {
    if (Clock::now() - last_housekeeping > milliseconds(500)) {
      housekeeping();
      last_housekeeping = Clock::now();
    }
    if (pending_ >= settings_.max_pending) {
      std::this_thread::sleep_for(milliseconds(5));
      continue;
    }
    auto batch = consumer_->fetch(settings_.fetch_batch, milliseconds(250));
    if (!batch) {
      if (batch.error().code != Errc::timeout) {
        log::warn("fetching jobs failed", {{"error", batch.error().message}});
        std::this_thread::sleep_for(milliseconds(250));
      }
      continue;
    }
    std::vector<std::shared_ptr<Work>> works;
    std::vector<std::string> redelivered;
    for (auto& m : *batch) {
      auto job = parse_job(m.data());
      if (!job) {
        log::error("refusing an unreadable delivery job", {{"subject", m.subject()}, {"error", job.error().message}});
        (void)m.term();
        continue;
      }
      auto w = std::make_shared<Work>(
          Work{std::move(m), std::make_shared<Job>(std::move(job).value()), 1, nullptr, Clock::now()});
      if (!api::is_uuid(w->job->target_id)) {
        log::error("refusing a delivery job without a valid target id", {{"job_id", w->job->job_id}});
        (void)w->msg.term();
        continue;
      }
      int delivered = w->msg.delivered();
      {
        std::lock_guard lock(mutex_);
        auto it = paused_naks_.find(w->job->job_id);
        w->attempt = std::max(1, delivered - (it == paused_naks_.end() ? 0 : it->second));
      }
      // Only a job delivered before for an attempt can already be finished; one that merely
      // comes back after this process handed it back (full queue, open circuit) cannot, and
      // looking those up cost a query per batch while a backlog drained.
      if (w->attempt > 1) redelivered.push_back(w->job->job_id);
      works.push_back(std::move(w));
    }
    // A job whose outcome is already recorded is not sent again: redelivered ones are looked
    // up (one query per batch), recently finished ones are known in memory.
    std::unordered_set<std::string> finished;
    if (!redelivered.empty()) {
      auto f = finished_jobs(db_, redelivered);
      if (f) finished = std::move(f).value();
    }
    {
      std::lock_guard lock(mutex_);
      for (auto& w : works) {
        if (recent_.count(w->job->job_id)) finished.insert(w->job->job_id);
      }
    }
    for (auto& w : works) {
      if (finished.count(w->job->job_id)) {
        (void)w->msg.ack();
        continue;
      }
      route(std::move(w));
    }
  }
}

void Dispatcher::route(std::shared_ptr<Work> work) {
  const auto& id = work->job->target_id;
  std::optional<milliseconds> hand_back;
  {
    std::lock_guard lock(mutex_);
    auto& st = states_[id];
    if (!st) {
      st = std::make_unique<TargetState>();
      st->limit = settings_.http_concurrency;
    }
    auto now = Clock::now();
    if (now < st->open_until) {
      hand_back = std::chrono::duration_cast<milliseconds>(st->open_until - now) + milliseconds(50);
    } else if (st->queue.size() >= settings_.max_target_queue) {
      hand_back = st->full.next(st->queue.size(), now);  // a slow target must not fill memory for everyone
    }
    if (hand_back) {
      ++paused_naks_[work->job->job_id];  // handed back without an attempt: not counted as one
    } else {
      st->queue.push_back(work);
      ++pending_;
    }
  }
  if (hand_back) {
    (void)work->msg.nak(jitter(*hand_back));
    return;
  }
  pump(id);
}

void Dispatcher::pump(const std::string& target_id) {
  std::vector<std::shared_ptr<Work>> start;
  {
    std::lock_guard lock(mutex_);
    auto it = states_.find(target_id);
    if (it == states_.end()) return;
    auto& st = *it->second;
    if (Clock::now() < st.open_until) return;
    while (st.in_flight < st.limit && !st.queue.empty()) {
      start.push_back(std::move(st.queue.front()));
      st.queue.pop_front();
      ++st.in_flight;
    }
  }
  for (auto& w : start) {
    if (!workers_->submit([this, w] { execute(w); })) {
      std::lock_guard lock(mutex_);
      --states_[target_id]->in_flight;
      --pending_;
    }
  }
}

void Dispatcher::execute(std::shared_ptr<Work> work) {
  const Job& job = *work->job;
  auto target = targets_.get(job.kind, job.target_id);
  if (!target) {
    Outcome o;
    o.error = target.error().message;
    o.permanent = target.error().code == Errc::not_found;
    return finish(std::move(work), std::move(o), false);
  }
  work->target = *target;
  {
    std::lock_guard lock(mutex_);
    auto& st = *states_[job.target_id];
    st.limit =
        std::holds_alternative<MqttTarget>(work->target->spec) ? settings_.mqtt_in_flight : settings_.http_concurrency;
  }
  if (work->attempt > settings_.max_attempts) {  // redelivered past the limit (e.g. after crashes)
    Outcome o;
    o.error = "attempts exhausted (" + std::to_string(work->attempt - 1) + ")";
    work->attempt = work->attempt - 1;
    return finish(std::move(work), std::move(o), false);
  }
  attempter_.attempt(*work->target, job, work->attempt,
                     [this, work](Outcome o, bool internal) { finish(work, std::move(o), internal); });
  pump(job.target_id);  // MQTT returns before its ack: room for more
}

void Dispatcher::finish(std::shared_ptr<Work> work, Outcome outcome, bool internal) {
  const Job& job = *work->job;
  std::string status = outcome.delivered                         ? "delivered"
                       : outcome.permanent                       ? "failed"
                       : work->attempt >= settings_.max_attempts ? "dead_lettered"
                                                                 : "retrying";
  std::optional<milliseconds> delay;
  if (status == "retrying") {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double j;
    {
      std::lock_guard lock(mutex_);
      j = u(rng_);
    }
    delay = backoff_delay(work->attempt, settings_.retry_base, settings_.retry_cap, outcome.retry_after, j);
  }
  // Circuit breaker and the target's concurrency slot.
  std::optional<std::pair<std::string, std::optional<std::string>>> report;
  std::deque<std::shared_ptr<Work>> handed_back;
  milliseconds cooldown = settings_.breaker_cooldown;
  {
    std::lock_guard lock(mutex_);
    auto& st = *states_[job.target_id];
    --st.in_flight;
    st.full.completed(Clock::now());
    if (outcome.delivered) {
      st.consecutive_failures = 0;
      if (st.reported_error) {
        st.reported_error = false;
        report = std::make_pair(std::string("active"), std::optional<std::string>());
      }
    } else if (outcome.error && work->target) {
      st.last_error = *outcome.error;
      if (++st.consecutive_failures >= settings_.breaker_threshold && Clock::now() >= st.open_until) {
        st.open_until = Clock::now() + settings_.breaker_cooldown;
        // Queued jobs go back to the stream until the cool-down ends; that is no attempt.
        handed_back.swap(st.queue);
        for (auto& w : handed_back) ++paused_naks_[w->job->job_id];
        log::warn("circuit breaker open", {{"target_id", job.target_id}, {"error", st.last_error}});
        if (job.kind == "integration") {
          st.reported_error = true;
          report = std::make_pair(std::string("error"), std::optional<std::string>(st.last_error));
        }
      }
    }
  }
  if (report) targets_.report_status(job.target_id, report->first, report->second);
  for (auto& w : handed_back) {
    (void)w->msg.nak(jitter(cooldown + milliseconds(50)));
    --pending_;
  }
  pump(job.target_id);

  Record record;
  record.job = work->job;
  record.attempt = work->attempt;
  record.status = status;
  record.store_internal = internal;
  record.outcome = std::move(outcome);
  auto tap = delivery_result_json(job, status, work->attempt, record.outcome, delay);
  record.done = [this, work, status, delay, tap = std::move(tap)](bool committed) {
    if (!committed) {
      (void)work->msg.nak(milliseconds(2000));  // recorded nothing: try the job again later
    } else if (status == "retrying") {
      (void)work->msg.nak(*delay);
      ++retried_;
    } else {
      (void)work->msg.ack();
      // A dead letter may be retried (same job id): only delivered and failed jobs are final.
      if (status != "dead_lettered")
        remember_finished(work->job->job_id);
      else {
        std::lock_guard lock(mutex_);
        paused_naks_.erase(work->job->job_id);
      }
    }
    if (committed) {
      if (status == "delivered")
        ++delivered_;
      else if (status == "failed")
        ++failed_;
      else if (status == "dead_lettered")
        ++dead_;
      (void)nats_.publish("dm.delivery." + work->job->target_id, tap);
    }
    --pending_;
  };
  recorder_.submit(std::move(record));
}

void Dispatcher::remember_finished(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  paused_naks_.erase(job_id);
  if (!recent_.insert(job_id).second) return;
  recent_order_.push_back(job_id);
  if (recent_order_.size() > 200000) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

void Dispatcher::housekeeping() {
  std::vector<std::string> reopen;
  {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    for (auto& [id, st] : states_) {
      if (st->open_until != Clock::time_point{} && now >= st->open_until && !st->queue.empty()) reopen.push_back(id);
      // Jobs waiting behind a slow target must not be redelivered meanwhile.
      for (auto& w : st->queue) {
        if (now - w->touched > settings_.ack_wait / 2) {
          (void)w->msg.in_progress();
          w->touched = now;
        }
      }
    }
  }
  for (const auto& id : reopen) pump(id);
  attempter_.sweep();
  if (Clock::now() - last_prune_ > std::chrono::hours(1)) {
    last_prune_ = Clock::now();
    auto pruned = prune_history(db_, settings_.history_retention_days);
    if (!pruned) log::warn("pruning history failed", {{"error", pruned.error().message}});
  }
}

std::string delivery_result_json(const Job& job, const std::string& status, int attempt, const Outcome& o,
                                 std::optional<milliseconds> next_in) {
  json::Writer w;
  w.start_object().field("job_id", job.job_id).field("kind", job.kind).field("target_id", job.target_id);
  if (!job.flow_id.empty()) w.field("flow_id", job.flow_id);
  if (!job.flow_run_id.empty()) w.field("flow_run_id", job.flow_run_id);
  if (!job.node_id.empty()) w.field("node_id", job.node_id);
  if (job.dev_eui.size() == 16) w.field("dev_eui", job.dev_eui);
  w.field("status", status).field("attempt", attempt).key("http_status");
  if (o.http_status)
    w.integer(*o.http_status);
  else
    w.null();
  w.field_or_null("error", o.error);
  if (next_in) {
    w.field("next_attempt_at", format_rfc3339(now() + std::chrono::duration_cast<std::chrono::nanoseconds>(*next_in)));
  }
  w.field("duration_ms", o.duration_ms).field("at", format_rfc3339(now())).end_object();
  return w.take();
}

}  // namespace dm::dispatcher
