#pragma once
// Function history, written in batches (db::append_rows: COPY, or INSERT ... ON CONFLICT DO
// NOTHING keyed by run id when a run is already there) by one background thread that also
// publishes the dm.function.run.<id> tap after each committed batch and purges old rows by itself. Rows wait in memory
// while the database is down (bounded; the oldest are dropped, and counted, beyond the bound).
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

namespace dm::function_runner {

struct HistoryRow {
  std::string run_id, function_id;
  std::int64_t version = 0;
  std::optional<std::string> flow_id, flow_run_id, node_id, dev_eui;
  bool replay = false;
  std::string status, input;
  std::optional<std::string> output, error;  // JSON texts
  std::string logs = "[]";
  double duration_ms = 0;
  std::string at;  // RFC 3339
};

struct HistoryOptions {
  std::chrono::milliseconds flush_interval{250};
  std::size_t batch_rows = 1000;
  std::size_t max_pending = 100000;
  std::chrono::hours keep_success{24 * 7};
  std::chrono::hours keep_failure{24 * 30};
  std::chrono::milliseconds purge_interval{std::chrono::minutes(10)};
};

class HistoryWriter {
 public:
  HistoryWriter(db::Pool& db, bus::Connection& nats, HistoryOptions options);
  ~HistoryWriter();                        // flushes what is pending
  void add(std::vector<HistoryRow> rows);  // one request's runs, under one lock
  // Writes everything pending now (tests, shutdown).
  void flush();
  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t written() const { return written_; }  // rows committed (repeats skipped by the key count too)

 private:
  void loop();
  void write_pending();
  void purge();

  db::Pool& db_;
  bus::Connection& nats_;
  HistoryOptions options_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<HistoryRow> pending_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> written_{0};
  std::uint64_t dropped_logged_ = 0;
  std::mutex write_mutex_;
  std::chrono::steady_clock::time_point next_purge_;
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
