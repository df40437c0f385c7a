#include "store.hpp"

#include "dm/core/log.hpp"
#include "dm/core/uuid.hpp"

namespace dm::dispatcher {

Recorder::Recorder(db::Pool& db, std::size_t max_batch, std::chrono::milliseconds interval)
    : db_(db), max_batch_(max_batch), interval_(interval), thread_([this] { run(); }) {}

Recorder::~Recorder() { stop(); }

void Recorder::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
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
    // record (starts the interval) and a full batch do.
    wake = queue_.size() == 1 || queue_.size() == max_batch_;
  }
  if (wake) cv_.notify_one();
}

std::size_t Recorder::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void Recorder::run() {
  for (;;) {
    std::vector<Record> batch;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // A short wait lets a batch fill under load; alone, a record waits at most `interval_`.
      if (queue_.size() < max_batch_ && !stopping_)
        cv_.wait_for(lock, interval_, [&] { return queue_.size() >= max_batch_ || stopping_; });
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    auto written = write(batch);
    if (!written)
      log::error("recording deliveries failed", {{"error", written.error().message}, {"records", batch.size()}});
    for (auto& r : batch) {
      if (r.done) r.done(written.ok());
    }
  }
}

Result<void> Recorder::write(std::vector<Record>& batch) {
  std::vector<db::Params> history, finals, dead, records;
  for (const auto& r : batch) {
    const Job& j = *r.job;
    const Outcome& o = r.outcome;
    history.push_back({uuid_v7(), j.job_id, j.target_id, j.kind, j.flow_id.empty() ? db::Param() : j.flow_id,
                       j.dev_eui.empty() ? db::Param() : j.dev_eui, std::to_string(r.attempt), r.status,
                       o.http_status ? db::Param(std::to_string(*o.http_status)) : std::nullopt, o.error,
                       std::to_string(o.duration_ms), o.request.empty() ? db::Param() : o.request,
                       o.response.empty() ? db::Param() : o.response});
    if (r.status != "retrying") finals.push_back({j.job_id, j.target_id, j.kind, r.status});
    if (r.status == "dead_lettered") {
      dead.push_back({j.job_id, j.target_id, j.kind, j.raw, std::to_string(r.attempt), o.error});
    }
    if (r.store_internal && r.status == "delivered") {
      records.push_back({j.job_id, j.target_id, j.dev_eui.empty() ? db::Param() : j.dev_eui,
                         j.flow_id.empty() ? db::Param() : j.flow_id, j.message, j.created_at});
    }
  }
  return db_.transaction([&](db::Session& s) -> Result<void> {
    // COPY is the fastest path for the one table every attempt writes to.
    DM_TRY(s.copy_in("history",
                     {"id", "job_id", "target_id", "kind", "flow_id", "dev_eui", "attempt", "status", "http_status",
                      "error", "duration_ms", "request", "response"},
                     history));
    if (!finals.empty()) {
      DM_TRY(db::insert_rows(s, "deliveries", {"job_id", "target_id", "kind", "status"}, finals,
                             "ON CONFLICT (job_id) DO UPDATE SET status = EXCLUDED.status, finished_at = now()"));
    }
    if (!dead.empty()) {
      DM_TRY(db::insert_rows(s, "dead_letters", {"job_id", "target_id", "kind", "job", "attempts", "last_error"}, dead,
                             "ON CONFLICT (job_id) DO UPDATE SET attempts = EXCLUDED.attempts, "
                             "last_error = EXCLUDED.last_error, job = EXCLUDED.job, created_at = now()"));
    }
    if (!records.empty()) {
      DM_TRY(db::insert_rows(s, "records", {"job_id", "storage_id", "dev_eui", "flow_id", "data", "received_at"},
                             records, "ON CONFLICT (job_id) DO NOTHING"));
    }
    return ok();
  });
}

Result<std::unordered_set<std::string>> finished_jobs(db::Pool& db, const std::vector<std::string>& job_ids) {
  std::unordered_set<std::string> out;
  if (job_ids.empty()) return out;
  // Probes the primary key once per id: with `job_id = ANY($1)` and a long list PostgreSQL
  // chose to scan the whole table instead.
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("SELECT d.job_id FROM unnest($1::text[]) AS j(id)"
                                         " JOIN deliveries d ON d.job_id = j.id",
                                         {db::text_array(job_ids)}));
  for (std::size_t i = 0; i < rows.size(); ++i) out.emplace(rows.get(i, 0));
  return out;
}

Result<std::size_t> prune_history(db::Pool& db, int days) {
  DM_ASSIGN_OR_RETURN(
      auto rows,
      db.exec("DELETE FROM history WHERE created_at < now() - make_interval(days => $1::int)", {std::to_string(days)}));
  return rows.affected();
}

}  // namespace dm::dispatcher
