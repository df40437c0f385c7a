#pragma once
// All SQL of the dispatcher: batched writes of attempt outcomes (history, final delivery
// states, dead letters, internal storage records) and the reads behind the REST routes.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "dm/db/db.hpp"
#include "model.hpp"

namespace dm::dispatcher {

// One attempt's outcome, to be recorded with its side rows.
struct Record {
  std::shared_ptr<const Job> job;
  int attempt = 1;
  std::string status;  // delivered | retrying | dead_lettered | failed
  Outcome outcome;
  bool store_internal = false;  // an internal storage keeps the message (delivered only)
  // Called on the writer thread after the batch committed (true) or failed (false).
  std::function<void(bool committed)> done;
};

// Collects records from any thread and writes them in batches (one transaction each), so
// history costs a few statements per thousand deliveries instead of one per delivery.
class Recorder {
 public:
  Recorder(db::Pool& db, std::size_t max_batch, std::chrono::milliseconds interval);
  ~Recorder();  // writes what is queued, then stops
  void submit(Record record);
  void stop();
  std::size_t queued() const;

 private:
  void run();
  Result<void> write(std::vector<Record>& batch);

  db::Pool& db_;
  std::size_t max_batch_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Record> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// Of `job_ids`, those already in a final state (delivered, failed or dead-lettered).
Result<std::unordered_set<std::string>> finished_jobs(db::Pool& db, const std::vector<std::string>& job_ids);

// Deletes history older than `days` (retention).
Result<std::size_t> prune_history(db::Pool& db, int days);

}  // namespace dm::dispatcher
