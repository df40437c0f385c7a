#pragma once
// All SQL of the dispatcher's delivery path: the rows that record attempt outcomes (history,
// dead letters, internal storage records) and the lookup that tells,
// for jobs JetStream delivers again, whether they are finished and how many attempts they
// have had. The REST routes' reads are in read_store.hpp.
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dm/db/db.hpp"
#include "model.hpp"

namespace dm::dispatcher {

// One outcome to record with its side rows: an attempt, or a job dead-lettered without one
// (too old, attempts exhausted before a restart).
struct Record {
  // Made once, when the outcome is known: writing the record again (after an outage that hid
  // whether the commit happened) adds no second history row and no second dead letter.
  std::string id;              // the history row
  std::string dead_letter_id;  // the dead letter, when there is one (also in its tap)
  std::shared_ptr<const Job> job;
  int attempt = 1;  // attempts made, this one included (0: dead-lettered before any)
  contract::DeliveryStatus status = contract::DeliveryStatus::failed;
  Outcome outcome;
  bool store_internal = false;  // an internal storage keeps the message (delivered only)
  bool maybe_written = false;   // was in a write whose commit is unknown: write idempotently
  bool degraded = false;        // reduced after PostgreSQL refused it (see Recorder)
  // Called once on the recorder's thread: committed, or false when the recorder stopped
  // before it could write the record (the job is then left to JetStream's redelivery).
  std::function<void(Record& record, bool committed)> done;
};

// Writes `records` in one transaction, or nothing (the error says why: db::is_data_error tells
// refused rows from an outage).
Result<void> write_records(db::Pool& db, std::span<const Record> records);

// What the recorded history says of a job JetStream delivers again.
struct JobState {
  bool finished = false;  // delivered, failed or dead-lettered (not retried since)
  int attempts = 0;       // attempts recorded since it was last dead-lettered (and retried)
  std::optional<std::string> last_error;
};
// One query for a batch of job ids; jobs without any row are absent.
Result<std::unordered_map<std::string, JobState>> job_states(db::Pool& db, const std::vector<std::string>& job_ids);

// Deletes history older than `days` (retention).
Result<std::size_t> prune_history(db::Pool& db, int days);

}  // namespace dm::dispatcher
