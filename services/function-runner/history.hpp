#pragma once
// Function history, written in batches (db::append_rows: COPY, or INSERT ... ON CONFLICT DO
// NOTHING keyed by run id when a run is already there) by one background thread that also
// publishes the dm.function.run.<id> tap after each committed batch and purges old rows by
// itself.
//
// A row PostgreSQL refuses for its data (db::write_isolating tells it from an outage and
// isolates it) can never be written as it is: it becomes a dead letter (kind `function-runs`,
// key = run id, payload = the row as JSON) and the rest of its batch is committed. During an
// outage the rows wait in memory (bounded; the oldest are dropped, and counted, beyond the
// bound) and the writer retries with a capped backoff; health() reports the outage.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/service/dead_letters.hpp"
#include "history_row.hpp"

namespace dm::function_runner {

inline constexpr const char* kDeadLetterKind = "function-runs";

struct HistoryOptions {
  std::chrono::milliseconds flush_interval{250};
  std::size_t batch_rows = 1000;
  std::size_t max_pending = 100000;
  std::chrono::hours keep_success{24 * 7};
  std::chrono::hours keep_failure{24 * 30};
  std::chrono::milliseconds purge_interval{std::chrono::minutes(10)};
  std::chrono::milliseconds retry_min{250};  // after an outage, doubling up to retry_max
  std::chrono::milliseconds retry_max{5000};
};

class HistoryWriter {
 public:
  // `dead_letters` receives the rows PostgreSQL refuses (null: they are dropped and logged).
  HistoryWriter(db::Pool& db, bus::Connection& nats, HistoryOptions options, service::DeadLetterBox* dead_letters);
  ~HistoryWriter();                        // flushes what is pending
  void add(std::vector<HistoryRow> rows);  // one request's runs, under one lock
  // Writes everything pending now (tests, shutdown), whatever the backoff says.
  void flush();
  // The retry of a dead letter of this kind: inserts its row again (ok if it is already there).
  Result<void> reinsert(const service::StoredDeadLetter& letter);
  // ok, or "function history: <error> since <time>" while PostgreSQL cannot take the rows.
  Result<void> health() const;
  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t written() const { return written_; }  // rows committed (repeats skipped by the key count too)
  std::uint64_t dead_lettered() const { return dead_lettered_; }

 private:
  using Clock = std::chrono::steady_clock;
  void loop();
  void write_pending();
  // Writes one batch; false on an outage (its unwritten rows are pending again).
  bool write_batch(std::vector<HistoryRow>& batch);
  // Stores the refused rows waiting to become dead letters; false on an outage.
  bool store_letters();
  void outage(const Error& e);
  void healthy();
  void purge();

  db::Pool& db_;
  bus::Connection& nats_;
  HistoryOptions options_;
  service::DeadLetterBox* dead_letters_;
  std::mutex mutex_;  // pending_, stopping_, retry_at_
  std::condition_variable cv_;
  std::deque<HistoryRow> pending_;
  bool stopping_ = false;
  Clock::time_point retry_at_{};  // during an outage, no write before this
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dead_lettered_{0};
  std::uint64_t dropped_logged_ = 0;
  std::mutex write_mutex_;  // one writer at a time; guards letters_ and retry_delay_
  std::vector<service::DeadLetter> letters_;  // refused rows not stored as dead letters yet
  std::chrono::milliseconds retry_delay_{0};
  mutable std::mutex health_mutex_;
  std::optional<std::string> outage_;  // "<error> since <time>"
  Clock::time_point next_purge_;
  std::thread thread_;
};

// The function's status follows its last run: collects the latest status per function and
// sends them to the registry (POST /internal/v1/functions/status) once per interval.
class StatusReporter {
 public:
  StatusReporter(bus::Connection& rpc, std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~StatusReporter();
  void record(const std::string& function_id, bool success, const std::string& at);

 private:
  void loop();
  bus::Connection& rpc_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, std::pair<bool, std::string>> latest_;  // function id → last run
  std::thread thread_;
};

}  // namespace dm::function_runner
