#include "store.hpp"

#include "dm/core/uuid.hpp"
#include "dm/json/json.hpp"

namespace dm::ingest {
namespace {

std::optional<std::string> opt_text(const json::Value& doc, const char* key) {
  const auto* v = json::find(doc, key);
  if (v == nullptr || v->IsNull()) return std::nullopt;
  if (v->IsString()) return std::string(json::view(*v));
  return json::to_string(*v);
}

}  // namespace

Result<HistoryRow> history_row(std::string_view message, std::uint64_t stream_seq) {
  // The columns come from the normalised fields; the row keeps the message as it is. The
  // original body and the radio metadata are most of its bytes and are not needed here.
  static constexpr std::string_view kUnused[] = {"raw", "rx_info", "tx_info"};
  auto doc = json::parse(message, {.max_bytes = 4 << 20, .max_depth = 128, .skip_members = kUnused});
  if (!doc) return doc.take_error();
  if (!doc->IsObject()) return Error(Errc::invalid_argument, "event is not an object");
  HistoryRow r;
  DM_ASSIGN_OR_RETURN(auto type, json::get_string(*doc, "event_type"));
  DM_ASSIGN_OR_RETURN(auto dedup, json::get_string(*doc, "dedup_id"));
  DM_ASSIGN_OR_RETURN(auto eui, json::get_string(*doc, "dev_eui"));
  DM_ASSIGN_OR_RETURN(auto received, json::get_string(*doc, "received_at"));
  r.event_type = std::string(type);
  r.dedup_id = std::string(dedup);
  r.dev_eui = std::string(eui);
  r.received_at = std::string(received);
  r.device_id = opt_text(*doc, "device_id");
  r.time = opt_text(*doc, "time");
  r.f_port = opt_text(*doc, "f_port");
  r.f_cnt = opt_text(*doc, "f_cnt");
  r.rssi = opt_text(*doc, "rssi");
  r.snr = opt_text(*doc, "snr");
  r.data = opt_text(*doc, "data");
  r.object = opt_text(*doc, "object");
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

Result<db::Rows> query_unknown(db::Pool& pool, std::int64_t limit) {
  return pool.exec(
      "SELECT dev_eui, to_json(min(received_at))#>>'{}', to_json(max(received_at))#>>'{}', count(*),"
      " (array_agg(event->>'device_name' ORDER BY received_at DESC))[1]"
      " FROM device_events WHERE device_id IS NULL GROUP BY dev_eui ORDER BY max(received_at) DESC LIMIT $1",
      {std::to_string(limit)});
}

}  // namespace dm::ingest
