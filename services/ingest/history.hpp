#pragma once
// Device history: the durable consumer `ingest-history` that writes every event of
// DM_DEVICE_EVENTS to PostgreSQL in batches (acking only after the commit), and the
// history / unknown-device endpoints.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "directory.hpp"
#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/http/router.hpp"
#include "dm/metrics/metrics.hpp"

namespace dm::ingest {

inline constexpr const char* kStream = "DM_DEVICE_EVENTS";
inline constexpr const char* kHistoryConsumer = "ingest-history";

class HistoryWriter {
 public:
  // After a batch smaller than `batch`, waits `linger` before fetching again, so a steady trickle
  // becomes a few larger transactions instead of one per event (history is not on any
  // caller's path; only the acks wait).
  HistoryWriter(bus::Connection& nats, db::Pool& db, metrics::Registry& metrics, int batch,
                std::chrono::milliseconds linger);
  ~HistoryWriter();
  Result<void> start();
  void stop();  // finishes the batch in hand

 private:
  void run();
  void write(std::vector<bus::JsMessage>& batch);

  bus::Connection& nats_;
  db::Pool& db_;
  int batch_;
  std::chrono::milliseconds linger_;
  metrics::Counter& written_;
  metrics::Counter& failed_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

void add_history_routes(http::Router& router, db::Pool& db, const Directory& directory);

}  // namespace dm::ingest
