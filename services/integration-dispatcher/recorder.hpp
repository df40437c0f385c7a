#pragma once
// Records attempt outcomes in batches, apart from delivering them. A job whose outcome is not
// recorded yet is neither acked nor sent again: its record waits here (its JetStream message
// kept alive by the dispatcher) until PostgreSQL takes it.
//   - Outage (connection lost, server down, timeouts): the records stay in memory, in order,
//     and are written again after 250 ms, doubling up to 5 s; the records' ids make a repeated
//     write add nothing. /readyz says "recording deliveries: <error> since <time>" meanwhile.
//   - Refusal (PostgreSQL refuses a row for its data, e.g. a \u0000 in a message kept by an
//     internal storage): db::write_isolating bisects the batch by record until the refused
//     ones are alone, commits the others, and writes each refused record reduced (degrade()):
//     no request or response documents, text fields printable, and a message an internal
//     storage could not keep goes to the dead letters with the database's error. A record
//     refused even then is logged and settled, so that it cannot jam what follows it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "dm/core/time.hpp"
#include "store.hpp"

namespace dm::dispatcher {

struct RecorderOptions {
  std::size_t max_batch = 1000;
  std::chrono::milliseconds linger{100};  // how long a short batch may fill before it is written
  std::chrono::milliseconds retry_first{250};
  std::chrono::milliseconds retry_max{5000};
};

// The record reduced to what PostgreSQL can hardly refuse, after it refused the whole one.
void degrade(Record& record, const Error& refusal);

class Recorder {
 public:
  Recorder(db::Pool& db, RecorderOptions options);
  ~Recorder();  // stop()
  void submit(Record record);
  // Writes what is queued (one try if the database is out), then stops; records it could not
  // write are handed back with done(false).
  void stop();
  std::size_t queued() const;
  // True while records wait for the database to come back: the dispatcher takes no new work.
  bool stalled() const { return stalled_.load(); }
  // For /readyz: unavailable with "recording deliveries: <error> since <time>" while stalled.
  Result<void> health() const;

 private:
  void run();
  bool take(std::vector<Record>& batch);
  // Writes a batch; returns the records left unwritten by an outage (and sets `outage`).
  std::vector<Record> write(std::vector<Record>& batch, std::optional<Error>& outage);
  // A refused record, reduced and written alone: true when settled, false on an outage.
  bool write_degraded(Record& record, const Error& refusal, std::optional<Error>& outage);
  void put_back(std::vector<Record> pending, Error why);
  void recovered();
  void abandon_queue();

  db::Pool& db_;
  RecorderOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Record> queue_;
  bool stopping_ = false;
  std::atomic<bool> stalled_{false};
  std::optional<Error> outage_;
  SysTime outage_since_{};
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point retry_at_{};
  std::thread thread_;
};

}  // namespace dm::dispatcher
