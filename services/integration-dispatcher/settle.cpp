// What an outcome does: to its target (concurrency slot, circuit breaker, adaptive limit), to
// its job (delivered, failed, retrying or dead-lettered), and, once it is recorded, to the
// job's JetStream message (ack or nak) and the taps.
#include "dm/contract/subjects.hpp"
#include "dm/contract/taps.hpp"
#include "dm/core/log.hpp"
#include "dm/core/uuid.hpp"
#include "work.hpp"

namespace dm::dispatcher {

using std::chrono::milliseconds;
using Status = contract::DeliveryStatus;

namespace {

// What an attempt showed of its target. Only the target's own failures count towards its
// breaker (and its attempts): a destination refused by the outbound guard, a bad configuration
// or a failed TLS verification are permanent and say nothing of whether it is up.
CircuitBreaker::Result target_result(const Outcome& o, bool reached_target) {
  if (!reached_target) return CircuitBreaker::Result::none;
  if (o.delivered || (o.permanent && o.http_status)) return CircuitBreaker::Result::answered;
  if (!o.permanent && o.error) return CircuitBreaker::Result::failed;
  return CircuitBreaker::Result::none;
}

}  // namespace

void Dispatcher::finish(std::shared_ptr<Work> work, Outcome outcome, bool internal) {
  settle_target(*work, outcome);
  auto decision = decide(*work, outcome);
  record(work, decision.status, std::move(outcome), work->attempt, decision.delay, internal);
  pump(work->job->target_id);
}

void Dispatcher::settle_target(const Work& work, const Outcome& outcome) {
  const Job& job = *work.job;
  auto result = target_result(outcome, work.target != nullptr);
  std::optional<std::pair<std::string, std::optional<std::string>>> report;
  std::deque<std::shared_ptr<Work>> handed_back;
  std::string error;
  {
    std::lock_guard lock(mutex_);
    auto& st = state_locked(job.target_id);
    auto now = SteadyClock::now();
    int in_flight = st.in_flight--;
    st.full.completed(now, !st.queue.empty());
    if (st.adaptive_limit && result != CircuitBreaker::Result::none) {
      auto latency = std::chrono::microseconds(static_cast<std::int64_t>(outcome.duration_ms * 1000));
      st.adaptive.sample(latency, result == CircuitBreaker::Result::failed, !st.queue.empty(), in_flight);
    }
    if (result == CircuitBreaker::Result::failed) st.last_error = *outcome.error;
    switch (st.breaker.record(result, work.probe, now)) {
      case CircuitBreaker::Change::opened:
        // Queued jobs go back to the stream until the cool-down ends; that is no attempt.
        handed_back.swap(st.queue);
        for (const auto& w : handed_back) untrack_locked(*w);
        st.full.reset();
        error = st.last_error;
        log::warn("circuit breaker open", {{"target_id", job.target_id}, {"error", error}});
        if (job.kind == contract::JobKind::integration && !st.reported_error) {
          st.reported_error = true;
          report = std::make_pair(std::string("error"), std::optional<std::string>(error));
        }
        break;
      case CircuitBreaker::Change::closed:
        st.full.reset();  // hand-back delays reset when a target recovers
        log::info("circuit breaker closed", {{"target_id", job.target_id}});
        if (st.reported_error) {
          st.reported_error = false;
          report = std::make_pair(std::string("active"), std::optional<std::string>());
        }
        break;
      case CircuitBreaker::Change::none:
        break;
    }
  }
  if (report) targets_.report_status(job.target_id, report->first, report->second);
  // Back when the probe is due: a recovered target gets its queue again at once.
  milliseconds back = settings_.breaker_cooldown;
  {
    std::lock_guard lock(mutex_);
    back = std::chrono::duration_cast<milliseconds>(
        states_[job.target_id]->breaker.wait(std::chrono::steady_clock::now()));
  }
  for (auto& w : handed_back) hand_back(w, back + milliseconds(50), "circuit breaker open: " + error);
}

Dispatcher::Decision Dispatcher::decide(const Work& work, Outcome& o) {
  if (o.delivered) return {Status::delivered, std::nullopt};
  if (o.permanent) return {Status::failed, std::nullopt};
  if (work.attempt >= settings_.max_attempts) return {Status::dead_lettered, std::nullopt};
  double j;
  {
    std::lock_guard lock(mutex_);
    j = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }
  auto delay = backoff_delay(work.attempt, settings_.retry_base, settings_.retry_cap, o.retry_after, j);
  // Due for its retry only after its age limit: dead-lettered now rather than when it comes back.
  if (std::chrono::system_clock::now() + delay >= work.expires) {
    o.error = o.error.value_or("failed") + "; not retried: the job would be older than " +
              duration_text(settings_.max_job_age);
    return {Status::dead_lettered, std::nullopt};
  }
  return {Status::retrying, delay};
}

// A job older than the age limit that cannot be attempted now, or is due for a retry.
void Dispatcher::expire(const std::shared_ptr<Work>& work, const std::string& why) {
  std::string error = "not delivered within " + duration_text(settings_.max_job_age) + " (" + why + ")";
  if (work->last_error) error += "; last error: " + *work->last_error;
  {
    std::lock_guard lock(mutex_);
    track_locked(work);
  }
  dead_letter_now(work, std::move(error));
}

// Dead-lettered without an attempt now: its attempts are those recorded before.
void Dispatcher::dead_letter_now(const std::shared_ptr<Work>& work, std::string error) {
  Outcome o;
  o.error = std::move(error);
  record(work, Status::dead_lettered, std::move(o), work->attempt - 1, std::nullopt, false);
}

void Dispatcher::record(const std::shared_ptr<Work>& work, Status status, Outcome outcome, int attempt,
                        std::optional<milliseconds> delay, bool internal) {
  Record r;
  r.id = uuid_v7();
  r.dead_letter_id = uuid_v7();  // used if the job ends as a dead letter (also after a refusal)
  r.job = work->job;
  r.attempt = attempt;
  r.status = status;
  r.store_internal = internal;
  r.outcome = std::move(outcome);
  r.done = [this, work, delay](Record& rec, bool committed) { recorded(work, rec, delay, committed); };
  recorder_.submit(std::move(r));
}

void Dispatcher::recorded(const std::shared_ptr<Work>& work, Record& rec, std::optional<milliseconds> delay,
                          bool committed) {
  untrack(*work);
  if (!committed) return;  // the recorder stopped first: JetStream redelivers it after the ack wait
  const Job& job = *work->job;
  if (rec.status == Status::retrying) {
    {
      std::lock_guard lock(mutex_);
      handed_back_[{work->msg.stream_sequence(), work->msg.index()}] =
          HandedBack{work->msg.delivered(), rec.attempt, rec.outcome.error, SteadyClock::now()};
    }
    (void)work->msg.nak(*delay);
    ++retried_;
  } else {
    (void)work->msg.ack();
    // A dead letter may be retried (same job id): only delivered and failed jobs are final.
    if (rec.status != Status::dead_lettered) remember_finished(job.job_id);
    ++(rec.status == Status::delivered ? delivered_ : rec.status == Status::failed ? failed_ : dead_);
  }
  // Both taps require an attempt of at least 1; a job that expired before any attempt is
  // announced as its first (its error says why), its rows keep 0.
  int attempt = std::max(1, rec.attempt);
  (void)nats_.publish(contract::subject::delivery(job.target_id),
                      delivery_result_json(job, rec.status, attempt, rec.outcome,
                                           rec.status == Status::retrying ? delay : std::nullopt));
  if (rec.status == Status::dead_lettered) {
    log::warn("dead-lettered",
              {{"job_id", job.job_id}, {"target_id", job.target_id}, {"error", rec.outcome.error.value_or("")}});
    contract::DeadLetterEvent letter{.kind = contract::DeadLetterKind::deliveries,
                                     .id = rec.dead_letter_id,
                                     .key = job.job_id,
                                     .subject = contract::subject::dispatch(job.target_id),
                                     .error = rec.outcome.error.value_or(""),
                                     .attempts = attempt,
                                     .at = format_rfc3339(now())};
    (void)nats_.publish(contract::subject::dead_letter(contract::to_string(letter.kind)), contract::encode(letter));
  }
}

std::string delivery_result_json(const Job& job, Status status, int attempt, const Outcome& o,
                                 std::optional<milliseconds> next_in) {
  std::optional<std::string> next_at;
  if (next_in) next_at = format_rfc3339(now() + std::chrono::duration_cast<std::chrono::nanoseconds>(*next_in));
  std::string at = format_rfc3339(now());
  return contract::encode(contract::DeliveryResultRef{.job_id = job.job_id,
                                                      .kind = job.kind,
                                                      .target_id = job.target_id,
                                                      .flow_id = job.flow_id,
                                                      .flow_run_id = job.flow_run_id,
                                                      .node_id = job.node_id,
                                                      .dev_eui = job.dev_eui,
                                                      .status = status,
                                                      .attempt = attempt,
                                                      .http_status = o.http_status,
                                                      .error = contract::view(o.error),
                                                      .next_attempt_at = contract::view(next_at),
                                                      .duration_ms = o.duration_ms,
                                                      .at = at});
}

}  // namespace dm::dispatcher
