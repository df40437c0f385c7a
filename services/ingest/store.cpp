#include "store.hpp"

#include "dm/contract/device_event.hpp"
#include "dm/core/uuid.hpp"
#include "dm/json/json.hpp"

namespace dm::ingest {
namespace {

// A number column's text as the message wrote it (the shortest that reads back the same).
template <typename Number>
std::optional<std::string> number_text(const std::optional<Number>& n) {
  return n ? std::optional<std::string>(json::to_string(json::Value(*n))) : std::nullopt;
}

}  // namespace

Result<HistoryRow> history_row(std::string_view message, std::uint64_t stream_seq) {
  // The columns come from the normalised fields; the row keeps the message as it is.
  DM_ASSIGN_OR_RETURN(auto e, contract::decode_device_event(message));
  HistoryRow r;
  r.event_type = contract::to_string(e.event_type);
  r.dedup_id = std::move(e.dedup_id);
  r.dev_eui = std::move(e.dev_eui);
  r.received_at = std::move(e.received_at);
  r.device_id = std::move(e.device_id);
  r.time = std::move(e.time);
  r.f_port = number_text(e.f_port);
  r.f_cnt = number_text(e.f_cnt);
  r.rssi = number_text(e.rssi);
  r.snr = number_text(e.snr);
  r.data = std::move(e.data);
  r.object = std::move(e.object);
  r.event = std::string(message);
  r.stream_seq = stream_seq;
  return r;
}

Result<std::size_t> insert_history(db::Pool& pool, std::span<const HistoryRow> rows) {
  static const std::vector<std::string> kColumns = {"id",          "event_type", "dedup_id", "dev_eui", "device_id",
                                                    "received_at", "time",       "f_port",   "f_cnt",   "rssi",
                                                    "snr",         "data",       "object",   "event",   "stream_seq"};
  std::vector<db::Params> params;
  params.reserve(rows.size());
  for (const auto& r : rows) {
    params.push_back({uuid_v7(), r.event_type, r.dedup_id, r.dev_eui, r.device_id, r.received_at, r.time, r.f_port,
                      r.f_cnt, r.rssi, r.snr, r.data, r.object, r.event, std::to_string(r.stream_seq)});
  }
  return db::append_rows(pool, "device_events", kColumns, params, "ON CONFLICT (event_type, dedup_id) DO NOTHING");
}

Result<std::pair<std::string, std::int64_t>> query_history(db::Pool& pool, const HistoryQuery& q) {
  std::string where = "TRUE";
  db::Params params;
  auto add = [&](const std::string& cond, const std::string& value) {
    params.push_back(value);
    std::string cond_sql = cond;
    auto pos = cond_sql.find('?');
    cond_sql.replace(pos, 1, "$" + std::to_string(params.size()));
    where += " AND " + cond_sql;
  };
  if (q.device_id) add("device_id = ?::uuid", *q.device_id);
  if (q.dev_eui) add("dev_eui = ?", *q.dev_eui);
  if (q.event_type) add("event_type = ?", *q.event_type);
  if (q.from) add("received_at >= ?::timestamptz", *q.from);
  if (q.to) add("received_at < ?::timestamptz", *q.to);
  db::Params page_params = params;
  page_params.push_back(std::to_string(q.page.limit));
  page_params.push_back(std::to_string(q.page.skip));
  std::string sql =
      "SELECT COALESCE(json_agg(json_build_object("
      " 'id', id, 'event_type', event_type, 'dev_eui', dev_eui, 'device_id', device_id, 'dedup_id', dedup_id,"
      " 'received_at', received_at, 'time', time, 'f_port', f_port, 'f_cnt', f_cnt, 'data', data,"
      " 'object', object, 'rssi', rssi, 'snr', snr, 'event', event::jsonb - 'raw') ORDER BY received_at DESC, id "
      "DESC), '[]')"
      " FROM (SELECT * FROM device_events WHERE " +
      where + " ORDER BY received_at DESC, id DESC LIMIT $" + std::to_string(params.size() + 1) + " OFFSET $" +
      std::to_string(params.size() + 2) + ") e";
  DM_ASSIGN_OR_RETURN(auto page, pool.exec(sql, page_params));
  DM_ASSIGN_OR_RETURN(auto total, pool.exec("SELECT count(*) FROM device_events WHERE " + where, params));
  return std::pair<std::string, std::int64_t>(std::string(page.get(0, 0)), total.get_int(0, 0));
}

Result<std::optional<std::string>> history_entry(db::Pool& pool, const std::string& device_id,
                                                 const std::string& history_id) {
  DM_ASSIGN_OR_RETURN(
      auto rows,
      pool.exec("SELECT json_build_object('id', id, 'event_type', event_type, 'dev_eui', dev_eui, 'device_id', "
                "device_id, 'dedup_id', dedup_id, 'event', event)::text FROM device_events WHERE id = $1::uuid AND "
                "device_id = $2::uuid",
                {history_id, device_id}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::string(rows.get(0, 0)));
}

Result<db::Rows> query_unknown(db::Pool& pool, std::int64_t limit) {
  return pool.exec(
      "SELECT dev_eui, to_json(min(received_at))#>>'{}', to_json(max(received_at))#>>'{}', count(*),"
      " (array_agg(event->>'device_name' ORDER BY received_at DESC))[1]"
      " FROM device_events WHERE device_id IS NULL GROUP BY dev_eui ORDER BY max(received_at) DESC LIMIT $1",
      {std::to_string(limit)});
}

}  // namespace dm::ingest
