#pragma once
// External storages: InfluxDB (line protocol over HTTP, 1.x database or 2.x org/bucket) and
// PostgreSQL (JSONB rows in the configured table). `internal` storages are written by the
// Recorder together with the history batch.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "dm/db/db.hpp"
#include "http_sender.hpp"
#include "model.hpp"

namespace dm::dispatcher {

// One line of InfluxDB line protocol for `job` (fields and tags mapped from message paths,
// numbers written as floats so points never conflict in type), or invalid_argument when no
// field has a value.
Result<std::string> influx_line(const InfluxStorage& s, const Job& job);

class StorageWriter {
 public:
  explicit StorageWriter(HttpSender& http) : http_(http) {}
  // Calls `done` once with the outcome (from the HTTP client's thread).
  void write_influx(const Target& target, const Job& job, HttpSender::Done done);
  Outcome write_postgres(const Target& target, const Job& job);

 private:
  struct PgTarget {
    std::string connection_url;  // as configured
    std::string address;         // the approved address its connections go to
    std::unique_ptr<db::Pool> pool;
    bool table_checked = false;
  };
  // The target's pool, connecting to one of `approved`; a new one when the URL changed or
  // its address is no longer approved (the name now resolves elsewhere).
  Outcome insert_postgres(PgTarget& pg, const PostgresStorage& s, const Job& job,
                          std::chrono::steady_clock::time_point started);
  Result<std::shared_ptr<PgTarget>> pg_target(const std::string& target_id, const std::string& url,
                                              const std::vector<http::IpAddress>& approved);
  HttpSender& http_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<PgTarget>> pg_;
};

}  // namespace dm::dispatcher
