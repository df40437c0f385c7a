#include "recorder.hpp"

#include "dm/core/log.hpp"
#include "dm/core/text.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/db/batch.hpp"

namespace dm::dispatcher {

void degrade(Record& r, const Error& refusal) {
  std::string why = "the database refused this record: " + printable(refusal.message, 1024);
  if (r.store_internal && r.status == contract::DeliveryStatus::delivered) {
    // Keeping the message was the delivery, and it did not happen: the job becomes a dead
    // letter (retryable once the cause is fixed), never a silent loss.
    r.status = contract::DeliveryStatus::dead_lettered;
    r.store_internal = false;
    r.outcome.delivered = false;
    r.outcome.error = why;
  } else {
    // The attempt happened as recorded (a delivered job stays delivered and is not sent again);
    // only what it carried is dropped.
    r.outcome.error = r.outcome.error ? printable(*r.outcome.error, 2048) + "; " + why : why;
  }
  r.outcome.request.clear();
  r.outcome.response.clear();
  r.degraded = true;
}

Recorder::Recorder(db::Pool& db, RecorderOptions options)
    : db_(db), options_(options), thread_([this] {
        name_this_thread("recorder");
        run();
      }) {}

Recorder::~Recorder() { stop(); }

void Recorder::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Recorder::submit(Record record) {
  bool wake;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(record));
    // Waking the writer for every record would cost a context switch each: only the first
    // record (starts the linger) and a full batch do.
    wake = queue_.size() == 1 || queue_.size() == options_.max_batch;
  }
  if (wake) cv_.notify_one();
}

std::size_t Recorder::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

Result<void> Recorder::health() const {
  std::lock_guard lock(mutex_);
  if (!outage_) return ok();
  return Error(Errc::unavailable,
               "recording deliveries: " + outage_->message + " since " + format_rfc3339(outage_since_));
}

void Recorder::run() {
  std::vector<Record> batch;
  while (take(batch)) {
    std::optional<Error> outage;
    auto pending = write(batch, outage);
    batch.clear();
    if (pending.empty())
      recovered();
    else
      put_back(std::move(pending), std::move(*outage));
  }
  abandon_queue();
}

bool Recorder::take(std::vector<Record>& batch) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (queue_.empty()) {
      if (stopping_) return false;
      cv_.wait(lock);
      continue;
    }
    // After an outage nothing is tried before the backoff has passed; stopping tries once more.
    if (stopping_ || std::chrono::steady_clock::now() >= retry_at_) break;
    cv_.wait_until(lock, retry_at_);
  }
  // A short wait lets a batch fill under load; alone, a record waits at most `linger`.
  if (!outage_ && !stopping_ && queue_.size() < options_.max_batch)
    cv_.wait_for(lock, options_.linger, [&] { return queue_.size() >= options_.max_batch || stopping_; });
  while (!queue_.empty() && batch.size() < options_.max_batch) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

std::vector<Record> Recorder::write(std::vector<Record>& batch, std::optional<Error>& outage) {
  auto result = db::write_isolating(batch.size(), [&](std::size_t first, std::size_t last) {
    return write_records(db_, std::span<const Record>(batch).subspan(first, last - first));
  });
  std::vector<Record> pending;
  if (result.outage) outage = result.outage;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& r = batch[i];
    switch (result.fate[i]) {
      case db::RowFate::written:
        if (r.done) r.done(r, true);
        break;
      case db::RowFate::refused:
        if (!write_degraded(r, result.refused.at(i), outage)) pending.push_back(std::move(r));
        break;
      case db::RowFate::pending:
        pending.push_back(std::move(r));
        break;
    }
  }
  return pending;
}

bool Recorder::write_degraded(Record& r, const Error& refusal, std::optional<Error>& outage) {
  if (!r.degraded) {
    log::warn("the database refused a delivery record: recording it without its documents",
              {{"job_id", r.job->job_id}, {"status", contract::to_string(r.status)}, {"error", refusal.message}});
    degrade(r, refusal);
  }
  auto written = write_records(db_, std::span<const Record>(&r, 1));
  if (!written && !db::is_data_error(written.error())) {
    outage = written.take_error();
    return false;
  }
  if (!written) {
    // Nothing smaller is left to write: settled (acked) rather than retried for ever.
    log::error(
        "the database refused even the reduced delivery record: the job is settled without one",
        {{"job_id", r.job->job_id}, {"status", contract::to_string(r.status)}, {"error", written.error().message}});
  }
  if (r.done) r.done(r, true);
  return true;
}

void Recorder::put_back(std::vector<Record> pending, Error why) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      // Back at the front, in their order: they were taken before anything still queued.
      for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
        it->maybe_written = true;
        queue_.push_front(std::move(*it));
      }
      if (!outage_) {
        outage_since_ = now();
        backoff_ = options_.retry_first;
        log::error("recording deliveries failed: keeping the records and trying again",
                   {{"error", why.message}, {"records", static_cast<std::int64_t>(queue_.size())}});
      } else {
        backoff_ = std::min(backoff_ * 2, options_.retry_max);
      }
      outage_ = std::move(why);
      stalled_ = true;
      retry_at_ = std::chrono::steady_clock::now() + backoff_;
      return;
    }
    // Stopping, and the last try failed: nothing queued will be written by this process.
    for (auto& r : queue_) pending.push_back(std::move(r));
    queue_.clear();
  }
  log::warn("stopping with delivery records unwritten", {{"records", static_cast<std::int64_t>(pending.size())}});
  for (auto& r : pending) {
    if (r.done) r.done(r, false);
  }
}

void Recorder::recovered() {
  std::lock_guard lock(mutex_);
  if (!outage_) return;
  auto lasted = std::chrono::duration_cast<std::chrono::milliseconds>(now() - outage_since_);
  log::info("recording deliveries again", {{"after_ms", static_cast<std::int64_t>(lasted.count())},
                                           {"waiting", static_cast<std::int64_t>(queue_.size())}});
  outage_.reset();
  stalled_ = false;
  backoff_ = std::chrono::milliseconds(0);
  retry_at_ = {};
}

void Recorder::abandon_queue() {
  std::deque<Record> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  if (!left.empty())
    log::warn("stopping with delivery records unwritten", {{"records", static_cast<std::int64_t>(left.size())}});
  for (auto& r : left) {
    if (r.done) r.done(r, false);
  }
}

}  // namespace dm::dispatcher
