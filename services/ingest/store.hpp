#pragma once
// All SQL of the ingest service: the history batch insert and the history/unknown-device
// queries. Parameterised everywhere; column and table names come from code.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dm/api/query.hpp"
#include "dm/db/db.hpp"

namespace dm::ingest {

struct HistoryRow {
  std::string event_type, dedup_id, dev_eui, received_at;
  std::optional<std::string> device_id, time, f_port, f_cnt, rssi, snr, data, object;
  std::string event;  // the whole message
  std::uint64_t stream_seq = 0;
};

// Builds a row from one device-event message; invalid_argument when it is not one.
Result<HistoryRow> history_row(std::string_view message, std::uint64_t stream_seq);

// One COPY (db::append_rows; INSERT ... ON CONFLICT DO NOTHING when some are already there):
// all or nothing, rows already stored are skipped. Returns the number of new rows.
Result<std::size_t> insert_history(db::Pool& pool, std::span<const HistoryRow> rows);

struct HistoryQuery {
  std::optional<std::string> device_id;
  std::optional<std::string> dev_eui;
  std::optional<std::string> event_type;
  std::optional<std::string> from, to;  // RFC 3339
  api::Paging page;
};
// A JSON array (newest first) and the total count of matching rows.
Result<std::pair<std::string, std::int64_t>> query_history(db::Pool& pool, const HistoryQuery& q);
// One stored event of a device, as the orchestrator's replay asks for it: {id, event_type,
// dev_eui, device_id, dedup_id, event} as JSON text (`event` is the normalised message);
// nullopt when the device has no such entry.
Result<std::optional<std::string>> history_entry(db::Pool& pool, const std::string& device_id,
                                                 const std::string& history_id);
// Unknown dev_euis with first/last seen and event counts, most recent first.
Result<db::Rows> query_unknown(db::Pool& pool, std::int64_t limit);

}  // namespace dm::ingest
