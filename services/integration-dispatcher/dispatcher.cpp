#include "dispatcher.hpp"

#include <algorithm>

#include "dm/api/query.hpp"
#include "dm/contract/streams.hpp"
#include "dm/contract/work.hpp"
#include "dm/core/log.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/service/consumer.hpp"
#include "work.hpp"

namespace dm::dispatcher {

using std::chrono::milliseconds;

namespace {

// How long stop() waits for attempts in flight: an HTTP attempt ends within its integration's
// timeout (10 s unless set), and deploy/ gives pods 45 s after SIGTERM.
constexpr auto kStopWait = std::chrono::seconds(35);
// A job handed back returns after at least this long, even when its age limit is nearer:
// the stream's clock and ours may differ a little, and a job must not bounce in a hot loop.
constexpr milliseconds kShortestHandBack{250};
// Hand-backs for which the database could not say how many attempts a job had (it is
// probably away) and for a second message of a job held here already.
constexpr milliseconds kAskAgain{1000};
constexpr milliseconds kHeldAlready{2000};

// Set while pump() starts attempts on its own thread (see there).
thread_local bool starting_here = false;

}  // namespace

void Attempter::attempt(const Target& target, const Job& job, int attempt,
                        const std::function<void(Outcome, bool)>& done) {
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
    : settings_(settings), nats_(nats), db_(db), targets_(targets), attempter_(attempter), recorder_(recorder) {}

Dispatcher::~Dispatcher() { stop(); }

Result<void> Dispatcher::start() {
  // DM_DISPATCH (a work queue) and the consumer (unlimited deliveries: attempts are counted
  // and dead-lettered here) are provisioning's (contract::consumers); start-up waits a while.
  DM_ASSIGN_OR_RETURN(consumer_, service::bind_consumer(nats_.jetstream(), contract::kDispatchStream,
                                                        contract::kDispatchConsumer, "", std::chrono::minutes(2)));
  workers_ = std::make_unique<ThreadPool>(static_cast<std::size_t>(settings_.workers), 1 << 20);
  running_ = true;
  fetcher_ = std::thread([this] {
    name_this_thread("fetcher");
    fetch_loop();
  });
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
        untrack_locked(*w);
        queued.push_back(std::move(w));
      }
      st->queue.clear();
    }
  }
  for (auto& w : queued) (void)w->msg.nak();
  // Attempts in flight answer on other threads (HTTP client, MQTT acks): wait until they are
  // recorded and acked (the Recorder still runs), since a job sent but not recorded would be
  // sent again by the replica that gets it next. Bounded by the longest attempt timeout.
  auto deadline = SteadyClock::now() + kStopWait;
  while (pending_.load() > 0 && SteadyClock::now() < deadline) std::this_thread::sleep_for(milliseconds(20));
  if (pending_.load() > 0) log::warn("stopping with jobs held", {{"jobs", static_cast<std::int64_t>(pending_.load())}});
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
  auto last_housekeeping = SteadyClock::now();
  while (running_) {
    if (SteadyClock::now() - last_housekeeping > milliseconds(500)) {
      housekeeping();
      last_housekeeping = SteadyClock::now();
    }
    // No new work while records wait for the database: what is held stays bounded, and the
    // jobs wait in the stream, where they cost nothing.
    if (pending_ >= settings_.max_pending || recorder_.stalled()) {
      std::this_thread::sleep_for(milliseconds(20));
      continue;
    }
    auto batch = service::fetch_parts(*consumer_, fetch_size_, milliseconds(250), service::unpack_jobs);
    if (!batch) {
      if (batch.error().code != Errc::timeout) {
        log::warn("fetching jobs failed", {{"error", batch.error().message}});
        std::this_thread::sleep_for(milliseconds(250));
      }
      continue;
    }
    if (!batch->empty()) admit(std::move(batch).value());
  }
}

// An entry that is no delivery job (a bug upstream, never the user's data) is logged and
// settled alone: the other jobs of its message are delivered.
std::vector<std::shared_ptr<Dispatcher::Work>> Dispatcher::read_jobs(std::vector<service::MessagePart>& parts) {
  std::vector<std::shared_ptr<Work>> works;
  works.reserve(parts.size());
  for (auto& part : parts) {
    auto job = parse_job(part.data());
    if (!job) {
      log::error("refusing an unreadable delivery job",
                 {{"entry", part.name()},
                  {"sequence", static_cast<std::int64_t>(part.stream_sequence())},
                  {"error", job.error().message}});
      (void)part.ack();
      continue;
    }
    if (!api::is_uuid(job->target_id)) {
      log::error("refusing a delivery job without a valid target id", {{"job_id", job->job_id}});
      (void)part.ack();
      continue;
    }
    auto w = std::make_shared<Work>(Work{std::move(part), std::make_shared<Job>(std::move(job).value())});
    w->expires = w->msg.stored_at() + settings_.max_job_age;
    works.push_back(std::move(w));
  }
  return works;
}

// Attempts known without the database: a first delivery has had none, unless the job is a
// repeat (queued again for a redelivered uplink: its first copy may be done); a job that comes
// back with the delivery count right after the one this process handed back or scheduled for
// a retry has had what the process recorded. Called under the lock.
bool Dispatcher::known_here(Work& w) {
  if (recent_.count(w.job->job_id)) {
    w.finished = true;
    return w.attempts_known = true;
  }
  int delivered = w.msg.delivered();
  if (delivered <= 1) return w.attempts_known = !w.msg.header(contract::kRepeatHeader);
  auto it = handed_back_.find({w.msg.stream_sequence(), w.msg.index()});
  if (it == handed_back_.end()) return false;
  HandedBack before = std::move(it->second);
  handed_back_.erase(it);
  if (before.delivered + 1 != delivered) return false;  // someone else had it in between
  w.attempt = before.attempts + 1;
  w.last_error = std::move(before.last_error);
  return w.attempts_known = true;
}

// The history of jobs JetStream delivers again (after a restart, another replica's hand-back,
// an ack lost): finished ones are acked, the others' attempts counted. One query per batch.
bool Dispatcher::look_up(const std::vector<std::shared_ptr<Work>>& works) {
  if (works.empty()) return true;
  std::vector<std::string> ids;
  ids.reserve(works.size());
  for (const auto& w : works) ids.push_back(w->job->job_id);
  auto states = job_states(db_, ids);
  if (!states) {
    log::warn("looking up redelivered jobs failed", {{"error", states.error().message}});
    return false;
  }
  for (const auto& w : works) {
    auto it = states->find(w->job->job_id);
    if (it != states->end()) {
      w->finished = it->second.finished;
      w->attempt = it->second.attempts + 1;
      w->last_error = it->second.last_error;
    }
    w->attempts_known = true;
  }
  return true;
}

void Dispatcher::admit(std::vector<service::MessagePart> parts) {
  auto works = read_jobs(parts);
  std::vector<std::shared_ptr<Work>> ask, held;
  {
    std::lock_guard lock(mutex_);
    std::unordered_set<std::string> seen;
    for (auto& w : works) {
      // A second message for a job held here (published twice, or redelivered after a lost
      // in-progress) waits until the first is settled instead of being sent alongside it.
      if (live_.count(w->job->job_id) || !seen.insert(w->job->job_id).second)
        held.push_back(w);
      else if (!known_here(*w))
        ask.push_back(w);
    }
  }
  (void)look_up(ask);
  std::unordered_set<const Work*> held_set;
  for (const auto& w : held) held_set.insert(w.get());
  for (auto& w : works) {
    if (held_set.count(w.get())) {
      hand_back(w, kHeldAlready, "held here already", false);
    } else if (!w->attempts_known) {
      hand_back(w, kAskAgain, "attempts unknown", false);  // not attempted blind: it may be done
    } else if (w->finished) {
      (void)w->msg.ack();
    } else if (w->attempt > 1 && std::chrono::system_clock::now() >= w->expires) {
      expire(w, "due for attempt " + std::to_string(w->attempt));
    } else {
      route(std::move(w));
    }
  }
}

Dispatcher::TargetState& Dispatcher::state_locked(const std::string& target_id) {
  auto& st = states_[target_id];
  if (!st) st = std::make_unique<TargetState>(settings_);
  return *st;
}

void Dispatcher::track_locked(const std::shared_ptr<Work>& work) {
  live_[work->job->job_id] = work;
  ++pending_;
}

void Dispatcher::untrack_locked(const Work& work) {
  auto it = live_.find(work.job->job_id);
  if (it != live_.end() && it->second.get() == &work) live_.erase(it);
  --pending_;
}

void Dispatcher::untrack(const Work& work) {
  std::lock_guard lock(mutex_);
  untrack_locked(work);
}

void Dispatcher::route(std::shared_ptr<Work> work) {
  const std::string id = work->job->target_id;
  std::optional<milliseconds> delay;
  std::string why;
  {
    std::lock_guard lock(mutex_);
    auto& st = state_locked(id);
    auto now = SteadyClock::now();
    if (auto wait = st.breaker.wait(now); wait > SteadyClock::duration::zero()) {
      delay = std::chrono::duration_cast<milliseconds>(wait) + milliseconds(50);
      why = "circuit breaker open: " + st.last_error;
    } else if (st.queue.size() >= settings_.max_target_queue) {
      delay = st.full.next(st.queue.size(), now);  // a slow target must not fill memory for everyone
      why = "target queue full";
    } else {
      st.queue.push_back(work);
      track_locked(work);
    }
  }
  if (delay) return hand_back(work, *delay, why);
  pump(id);
}

// Back to the stream without an attempt (not counted as one). A job whose age limit has passed
// is dead-lettered instead, and one whose limit falls within the delay comes back when it
// passes, so that an open breaker or a full queue holds no job much longer than the limit.
void Dispatcher::hand_back(const std::shared_ptr<Work>& work, milliseconds delay, const std::string& why,
                           bool attempts_known) {
  auto now = std::chrono::system_clock::now();
  if (attempts_known && now >= work->expires) return expire(work, why);
  auto left = std::chrono::duration_cast<milliseconds>(work->expires - now) + milliseconds(100);
  delay = std::max(std::min(jitter(delay), left), kShortestHandBack);
  if (attempts_known) {
    std::lock_guard lock(mutex_);
    handed_back_[{work->msg.stream_sequence(), work->msg.index()}] =
        HandedBack{work->msg.delivered(), work->attempt - 1, work->last_error, SteadyClock::now()};
  }
  log::debug("handed back", {{"job_id", work->job->job_id},
                             {"why", why},
                             {"delay_ms", static_cast<std::int64_t>(delay.count())},
                             {"delivered", static_cast<std::int64_t>(work->msg.delivered())}});
  (void)work->msg.nak(delay);
}

void Dispatcher::pump(const std::string& target_id) {
  std::vector<std::shared_ptr<Work>> start;
  {
    std::lock_guard lock(mutex_);
    auto it = states_.find(target_id);
    if (it == states_.end()) return;
    auto& st = *it->second;
    auto now = SteadyClock::now();
    while (!st.queue.empty() && st.in_flight < st.limit()) {
      auto admit = st.breaker.admit(now);  // open: none; half-open: one probe at a time
      if (admit == CircuitBreaker::Admit::no) break;
      auto w = std::move(st.queue.front());
      st.queue.pop_front();
      w->probe = admit == CircuitBreaker::Admit::probe;
      ++st.in_flight;
      start.push_back(std::move(w));
    }
  }
  // An HTTP attempt whose target is known starts here: it only hands its request to the HTTP
  // client's I/O thread, so a worker thread would add a wake-up per job and nothing else. The
  // others go to a worker, which may have to ask the registry or write to a storage. A pump
  // inside an attempt that ended at once (a refused destination calls back before it returns)
  // hands its jobs to the workers rather than recursing once per queued job.
  const bool nested = starting_here;
  starting_here = true;
  for (auto& w : start) {
    auto target = nested ? nullptr : targets_.cached(w->job->target_id);
    if (target && std::holds_alternative<HttpTarget>(target->spec)) {
      attempt(w, std::move(target));
    } else if (!workers_->submit([this, w] { execute(w); })) {
      abandon(w, kAskAgain, "stopping");
    }
  }
  starting_here = nested;
}

void Dispatcher::execute(std::shared_ptr<Work> work) {
  const Job& job = *work->job;
  auto target = targets_.get(job.kind, job.target_id);
  if (!target && target.error().code != Errc::not_found) {
    // The registry could not say what the target is: nothing was attempted, nothing is charged.
    return abandon(work, milliseconds(2000), target.error().message);
  }
  if (!target) {
    Outcome o;
    o.error = target.error().message;
    o.permanent = true;
    return finish(std::move(work), std::move(o), false);
  }
  attempt(work, *target);
  pump(job.target_id);  // MQTT returns before its ack: room for more
}

void Dispatcher::attempt(const std::shared_ptr<Work>& work, std::shared_ptr<const Target> target) {
  const Job& job = *work->job;
  work->target = std::move(target);
  {
    std::lock_guard lock(mutex_);
    auto& st = state_locked(job.target_id);
    st.adaptive_limit = std::holds_alternative<HttpTarget>(work->target->spec);
    st.fixed_limit =
        std::holds_alternative<MqttTarget>(work->target->spec) ? settings_.mqtt_in_flight : settings_.http_concurrency;
  }
  if (work->attempt > settings_.max_attempts) {  // MAX_ATTEMPTS was lowered since its last attempt
    settle_target(*work, Outcome{});             // the slot, without any effect on the breaker
    dead_letter_now(work, "attempts exhausted (" + std::to_string(work->attempt - 1) + ")");
    return pump(job.target_id);
  }
  attempter_.attempt(*work->target, job, work->attempt,
                     [this, work](Outcome o, bool internal) { finish(work, std::move(o), internal); });
}

// A job taken for an attempt that did not happen: its slot (and probe) freed, back to the stream.
void Dispatcher::abandon(const std::shared_ptr<Work>& work, milliseconds delay, const std::string& why) {
  settle_target(*work, Outcome{});
  untrack(*work);
  hand_back(work, delay, why);
  pump(work->job->target_id);
}

void Dispatcher::remember_finished(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  if (!recent_.insert(job_id).second) return;
  recent_order_.push_back(job_id);
  if (recent_order_.size() > 200000) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

void Dispatcher::housekeeping() {
  std::vector<std::string> waiting;
  {
    std::lock_guard lock(mutex_);
    auto now = SteadyClock::now();
    for (auto& [id, st] : states_) {
      if (!st->queue.empty()) waiting.push_back(id);  // e.g. a breaker's cool-down has passed
    }
    // Jobs held here (queued, in flight, or waiting for the database to record them) must not
    // be redelivered meanwhile.
    for (auto& [job_id, w] : live_) {
      if (now - w->touched > settings_.ack_wait / 2) {
        (void)w->msg.in_progress();
        w->touched = now;
      }
    }
    // Hand-backs that came back elsewhere are forgotten (a lookup finds their attempts).
    auto forget = 2 * std::max<SteadyClock::duration>(HandBackSchedule::kMax, settings_.retry_cap * 10);
    std::erase_if(handed_back_, [&](const auto& e) { return now - e.second.at > forget; });
  }
  for (const auto& id : waiting) pump(id);
  attempter_.sweep();
  if (SteadyClock::now() - last_prune_ > std::chrono::hours(1)) {
    last_prune_ = SteadyClock::now();
    auto pruned = prune_history(db_, settings_.history_retention_days);
    if (!pruned) log::warn("pruning history failed", {{"error", pruned.error().message}});
  }
}

}  // namespace dm::dispatcher
