// Devices' labels, the compact directory ingest and the orchestrator cache, and the state
// updates ingest sends (the registry stays the owner of device rows).
#include <unordered_map>

#include "dm/json/json.hpp"
#include "store.hpp"
#include "store_rows.hpp"

namespace dm::registry::store {

Result<std::optional<std::size_t>> replace_device_labels(db::Session& s, const std::string& device_id,
                                                         const std::vector<std::string>& label_ids) {
  DM_TRY(s.exec("DELETE FROM device_labels WHERE device_id = $1::uuid", {device_id}));
  for (std::size_t i = 0; i < label_ids.size(); ++i) {
    DM_ASSIGN_OR_RETURN(auto rows, s.exec("INSERT INTO device_labels (device_id, label_id) "
                                          "SELECT $1::uuid, id FROM labels WHERE id = $2::uuid ON CONFLICT DO NOTHING "
                                          "RETURNING label_id",
                                          {device_id, label_ids[i]}));
    // Nothing inserted: the label is unknown, or named twice in the list.
    if (rows.empty()) {
      DM_ASSIGN_OR_RETURN(bool known, exists(s, Kind::label, label_ids[i]));
      if (!known) return std::optional<std::size_t>(i);
    }
  }
  return std::optional<std::size_t>{};
}

Result<std::string> device_labels(db::Session& s, const std::string& device_id) {
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT v.doc FROM label_docs v JOIN device_labels dl ON dl.label_id = v.id "
                                        "WHERE dl.device_id = $1::uuid ORDER BY v.name",
                                        {device_id}));
  return db::json_array(rows);
}

Result<void> add_device_label(db::Session& s, const std::string& device_id, const std::string& label_id) {
  DM_TRY(s.exec("INSERT INTO device_labels (device_id, label_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT DO NOTHING",
                {device_id, label_id}));
  return ok();
}

Result<bool> remove_device_label(db::Session& s, const std::string& device_id, const std::string& label_id) {
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("DELETE FROM device_labels WHERE label_id = $1::uuid AND device_id = $2::uuid "
                                        "RETURNING device_id",
                                        {label_id, device_id}));
  return !rows.empty();
}

Result<std::string> device_directory(db::Pool& db) {
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("SELECT doc FROM device_cache_docs ORDER BY dev_eui"));
  return db::json_array(rows);
}

Result<std::optional<std::string>> directory_entry(db::Pool& db, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("SELECT doc FROM device_cache_docs WHERE id = $1::uuid", {id}));
  return first_text(rows);
}

Result<std::optional<std::string>> directory_entry_by_eui(db::Pool& db, const std::string& dev_eui) {
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("SELECT doc FROM device_cache_docs WHERE dev_eui = $1", {dev_eui}));
  return first_text(rows);
}

namespace {

// One statement for states of distinct devices: the rows to update come as one JSON array,
// which carries the nulls a text[] cannot.
Result<void> update_distinct_states(db::Session& s, const std::vector<const DeviceState*>& states,
                                    std::vector<StateChange>& out) {
  json::Writer w;
  w.start_array();
  for (const auto* st : states) {
    w.start_object()
        .field("id", st->id)
        .field_or_null("seen", st->last_seen_at)
        .field_or_null("status", word_param(st->status))
        .field_or_null("battery", st->battery_level)
        .end_object();
  }
  w.end_array();
  DM_ASSIGN_OR_RETURN(
      auto rows,
      s.exec("WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
             "   AS i(id uuid, seen timestamptz, status text, battery double precision)),"
             " old AS (SELECT d.id, d.status FROM devices d JOIN input i ON d.id = i.id FOR UPDATE OF d) "
             "UPDATE devices d SET "
             " last_seen_at = GREATEST(d.last_seen_at, i.seen),"
             " battery_level = COALESCE(i.battery, d.battery_level),"
             " status = CASE WHEN i.status IS NULL OR d.status = 'maintenance' THEN d.status ELSE i.status END,"
             " version = d.version + CASE WHEN i.status IS NOT NULL AND d.status <> 'maintenance'"
             "                             AND d.status <> i.status THEN 1 ELSE 0 END "
             "FROM input i JOIN old o ON o.id = i.id WHERE d.id = i.id "
             "RETURNING d.id, d.version, (o.status <> d.status) AS status_changed",
             {w.take()}));
  for (std::size_t r = 0; r < rows.size(); ++r)
    out.push_back({std::string(rows.get(r, 0)), rows.get_int(r, 1), rows.get_bool(r, 2)});
  return ok();
}

}  // namespace

Result<std::vector<StateChange>> update_device_states(db::Session& s, const std::vector<DeviceState>& states) {
  // Rounds of distinct ids, in order: the n-th report of a device goes in round n.
  std::vector<std::vector<const DeviceState*>> rounds;
  std::unordered_map<std::string, std::size_t> seen;
  for (const auto& st : states) {
    auto round = seen[st.id]++;
    if (round == rounds.size()) rounds.emplace_back();
    rounds[round].push_back(&st);
  }
  std::vector<StateChange> out;
  for (const auto& round : rounds) DM_TRY(update_distinct_states(s, round, out));
  return out;
}

}  // namespace dm::registry::store
