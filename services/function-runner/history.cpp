#include "history.hpp"

#include <map>

#include "dm/core/log.hpp"
#include "dm/core/time.hpp"
#include "dm/db/batch.hpp"
#include "dm/json/json.hpp"

namespace dm::function_runner {

HistoryWriter::HistoryWriter(db::Pool& db, bus::Connection& nats, HistoryOptions options,
                             service::DeadLetterBox* dead_letters)
    : db_(db),
      nats_(nats),
      options_(options),
      dead_letters_(dead_letters),
      next_purge_(std::chrono::steady_clock::now()) {
  thread_ = std::thread([this] { loop(); });
}

HistoryWriter::~HistoryWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  write_pending();
}

void HistoryWriter::add(std::vector<HistoryRow> rows) {
  bool full;
  {
    std::lock_guard lock(mutex_);
    for (auto& row : rows) {
      if (pending_.size() >= options_.max_pending) {
        pending_.pop_front();  // the oldest go first; counted, and logged by the writer
        ++dropped_;
      }
      pending_.push_back(std::move(row));
    }
    full = pending_.size() >= options_.batch_rows;
  }
  if (full) cv_.notify_one();
}

void HistoryWriter::flush() { write_pending(); }

void HistoryWriter::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.flush_interval);
    if (stopping_) break;
    if (Clock::now() < retry_at_) continue;  // backing off after an outage
    lock.unlock();
    write_pending();
    if (auto d = dropped_.load(); d != dropped_logged_) {
      log::warn("function history rows dropped: the database is behind or down", {{"total", static_cast<long>(d)}});
      dropped_logged_ = d;
    }
    if (std::chrono::steady_clock::now() >= next_purge_) {
      purge();
      next_purge_ = std::chrono::steady_clock::now() + options_.purge_interval;
    }
    lock.lock();
  }
}

namespace {
// The order of each row's values below; input and output are moved into the rows.
const std::vector<std::string> kColumns = {"run_id",  "function_id", "version", "flow_id",     "flow_run_id",
                                           "node_id", "dev_eui",     "replay",  "status",      "input",
                                           "output",  "logs",        "error",   "duration_ms", "created_at"};
constexpr std::size_t kInputColumn = 9, kOutputColumn = 10;

std::string tap(const HistoryRow& r) {
  json::Writer w;
  w.start_object().field("run_id", r.run_id).field("function_id", r.function_id).field("version", r.version);
  w.field_or_null("flow_id", r.flow_id).field_or_null("flow_run_id", r.flow_run_id).field_or_null("node_id", r.node_id);
  w.field_or_null("dev_eui", r.dev_eui).field("status", r.status).field("duration_ms", r.duration_ms);
  w.key("error");
  if (r.error)
    w.raw(*r.error);
  else
    w.null();
  w.key("logs").raw(r.logs).field("replay", r.replay).field("at", r.at).end_object();
  return w.take();
}

// The documents move into the parameters (the taps do not carry them): they are most of a
// row's bytes. take_back() returns them to a row that was not written.
db::Params params_of(HistoryRow& r) {
  return {r.run_id, r.function_id, std::to_string(r.version), r.flow_id, r.flow_run_id, r.node_id,
          r.dev_eui, r.replay ? "true" : "false", r.status, std::move(r.input), std::move(r.output), r.logs,
          r.error, std::to_string(r.duration_ms), r.at};
}

void take_back(HistoryRow& r, db::Params& p) {
  r.input = std::move(*p[kInputColumn]);
  r.output = std::move(p[kOutputColumn]);
}

Result<void> append(db::Pool& db, const std::vector<db::Params>& rows) {
  auto n = db::append_rows(db, "function_runs", kColumns, rows, "ON CONFLICT (run_id) DO NOTHING");
  if (!n) return n.take_error();
  return ok();
}
}  // namespace

void HistoryWriter::write_pending() {
  std::lock_guard writing(write_mutex_);
  if (!store_letters()) return;
  for (;;) {
    std::vector<HistoryRow> batch;
    {
      std::lock_guard lock(mutex_);
      std::size_t n = std::min(pending_.size(), options_.batch_rows);
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.begin() + static_cast<long>(n)));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(n));
    }
    if (batch.empty()) break;
    if (!write_batch(batch)) return;
  }
  healthy();
}

bool HistoryWriter::write_batch(std::vector<HistoryRow>& batch) {
  std::vector<db::Params> rows;
  rows.reserve(batch.size());
  for (auto& r : batch) rows.push_back(params_of(r));
  // The whole batch in one statement; only a refused batch is split (copies of its halves).
  auto result = db::write_isolating(rows.size(), [&](std::size_t first, std::size_t last) {
    if (first == 0 && last == rows.size()) return append(db_, rows);
    return append(db_, std::vector<db::Params>(rows.begin() + static_cast<long>(first),
                                               rows.begin() + static_cast<long>(last)));
  });
  written_ += result.written;
  std::vector<HistoryRow> again;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (result.fate[i] == db::RowFate::written) {
      (void)nats_.publish("dm.function.run." + batch[i].function_id, tap(batch[i]));
      continue;
    }
    take_back(batch[i], rows[i]);
    if (result.fate[i] == db::RowFate::refused) {
      letters_.push_back({batch[i].run_id, "dm.fn.exec", row_json(batch[i]), result.refused.at(i).message, 1});
      if (letters_.size() > options_.max_pending) {  // the dead-letter store is down too: bounded alike
        letters_.erase(letters_.begin());
        ++dropped_;
      }
    } else {
      again.push_back(std::move(batch[i]));
    }
  }
  if (!again.empty()) {
    std::lock_guard lock(mutex_);
    pending_.insert(pending_.begin(), std::make_move_iterator(again.begin()), std::make_move_iterator(again.end()));
  }
  if (result.outage) {
    outage(*result.outage);
    return false;
  }
  return store_letters();
}

bool HistoryWriter::store_letters() {
  if (letters_.empty()) return true;
  if (!dead_letters_) {
    for (const auto& l : letters_) log::error("function history row refused", {{"run_id", l.key}, {"error", l.error}});
    letters_.clear();
    return true;
  }
  if (auto stored = dead_letters_->add(letters_); !stored) {
    outage(stored.error());
    return false;
  }
  dead_lettered_ += letters_.size();
  letters_.clear();
  return true;
}

void HistoryWriter::outage(const Error& e) {
  retry_delay_ = std::clamp(retry_delay_ * 2, options_.retry_min, options_.retry_max);
  {
    std::lock_guard lock(mutex_);
    retry_at_ = Clock::now() + retry_delay_;
  }
  std::lock_guard lock(health_mutex_);
  if (!outage_) {
    outage_ = e.message + " since " + format_rfc3339(now());
    log::warn("function history write failed; rows wait in memory and the write is retried", {{"error", e.message}});
  }
}

void HistoryWriter::healthy() {
  retry_delay_ = std::chrono::milliseconds(0);
  std::lock_guard lock(health_mutex_);
  if (outage_) log::info("function history is written again", {{"outage", *outage_}});
  outage_.reset();
}

Result<void> HistoryWriter::health() const {
  std::lock_guard lock(health_mutex_);
  if (!outage_) return ok();
  return Error(Errc::unavailable, "function history: " + *outage_);
}

Result<void> HistoryWriter::reinsert(const service::StoredDeadLetter& letter) {
  DM_ASSIGN_OR_RETURN(auto row, row_from_json(letter.payload));
  std::vector<db::Params> rows;
  rows.push_back(params_of(row));
  DM_TRY(append(db_, rows));
  take_back(row, rows[0]);
  ++written_;
  (void)nats_.publish("dm.function.run." + row.function_id, tap(row));
  return ok();
}

void HistoryWriter::purge() {
  auto r = db_.exec(
      "DELETE FROM function_runs WHERE (status IN ('success', 'filtered') AND created_at < now() - make_interval(hours "
      "=> $1::int))"
      " OR (status IN ('error', 'timeout') AND created_at < now() - make_interval(hours => $2::int))",
      {std::to_string(options_.keep_success.count()), std::to_string(options_.keep_failure.count())});
  if (!r)
    log::warn("function history purge failed", {{"error", r.error().message}});
  else if (r->affected() > 0)
    log::info("function history purged", {{"rows", r->affected()}});
}

StatusReporter::StatusReporter(bus::Connection& rpc, std::chrono::milliseconds interval)
    : rpc_(rpc), interval_(interval) {
  thread_ = std::thread([this] { loop(); });
}

StatusReporter::~StatusReporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StatusReporter::record(const std::string& function_id, bool success, const std::string& at) {
  std::lock_guard lock(mutex_);
  auto it = latest_.find(function_id);
  if (it == latest_.end())
    latest_.emplace(function_id, std::make_pair(success, at));
  else if (it->second.second <= at)
    it->second = {success, at};  // RFC 3339 UTC strings sort by time
}

void StatusReporter::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    cv_.wait_for(lock, interval_);
    if (latest_.empty()) continue;
    auto last = std::move(latest_);
    latest_.clear();
    lock.unlock();
    json::Writer w;
    w.start_array();
    for (const auto& [id, st] : last)
      w.start_object()
          .field("id", id)
          .field("status", st.first ? "success" : "error")
          .field("last_run_at", st.second)
          .end_object();
    w.end_array();
    bus::Headers headers{
        {"Dm-Method", "POST"}, {"Dm-Target", "/internal/v1/functions/status"}, {"Content-Type", "application/json"}};
    // Best effort: a lost update is repaired by the next run of the function.
    rpc_.request_async(
        "dm.rpc.registry", w.take(), std::chrono::seconds(5),
        [](Result<bus::Message> r) {
          if (!r) log::debug("function status update not delivered", {{"error", r.error().message}});
        },
        headers);
    lock.lock();
  }
}

}  // namespace dm::function_runner
