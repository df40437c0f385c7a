#pragma once
// Device history: the durable consumer `ingest-history` that writes every event of
// DM_DEVICE_EVENTS to PostgreSQL in batches (each stream message holds a batch of events,
// service::MessagePart; a message is acked once all its events are committed), and the
// history / unknown-device endpoints.
//
// What cannot be stored never holds up what can: an event PostgreSQL refuses for its data
// (or a message that is no device event) is isolated from its batch (db::write_isolating),
// the rest is committed, and the culprit becomes a dead letter (kind `device-events`) before
// its message is acked. An outage is retried with a capped backoff while the batch in hand
// waits (its messages kept alive), and /readyz says why.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "directory.hpp"
#include "dm/bus/bus.hpp"
#include "dm/core/outage.hpp"
#include "dm/db/db.hpp"
#include "dm/http/router.hpp"
#include "dm/metrics/metrics.hpp"
#include "dm/service/dead_letters.hpp"
#include "dm/service/message_parts.hpp"
#include "store.hpp"

namespace dm::ingest {

inline constexpr auto kDeadLetterKind = contract::DeadLetterKind::device_events;

class HistoryWriter {
 public:
  // After a batch smaller than `batch`, waits `linger` before fetching again, so a steady trickle
  // becomes a few larger transactions instead of one per event (history is not on any
  // caller's path; only the acks wait).
  HistoryWriter(bus::Connection& nats, db::Pool& db, service::DeadLetterBox& dead, metrics::Registry& metrics,
                int batch, std::chrono::milliseconds linger);
  ~HistoryWriter();
  Result<void> start();
  void stop();  // finishes the batch in hand, or hands it back if the database is down
  Result<void> health() const { return outage_.health(); }

 private:
  struct Item;
  void run();
  void write(std::vector<service::MessagePart>& batch);
  // Stores the rows of `items` that can be stored; returns false on an outage (then `items`
  // keeps only what is still to do).
  bool store(std::vector<Item>& items);
  bool bury(std::vector<Item>& items);
  void wait_out(std::vector<Item>& items, std::chrono::milliseconds delay);

  bus::Connection& nats_;
  db::Pool& db_;
  service::DeadLetterBox& dead_;
  int batch_;
  std::chrono::milliseconds linger_;
  metrics::Counter& written_;
  metrics::Counter& failed_;
  metrics::Counter& dead_lettered_;
  Outage outage_{"device history"};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Puts a dead-lettered device event back into the history (the retry of its dead letter).
Result<void> restore_history(db::Pool& db, const service::StoredDeadLetter& letter);

void add_history_routes(http::Router& router, db::Pool& db, const Directory& directory);

}  // namespace dm::ingest
