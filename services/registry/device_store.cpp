// Devices' labels, the compact directory ingest and the orchestrator cache, and the state
// updates ingest sends (the registry stays the owner of device rows).
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

Result<std::optional<StateChange>> update_device_state(db::Session& s, const DeviceState& state) {
  const db::Param battery = state.battery_level ? db::Param(std::to_string(*state.battery_level)) : std::nullopt;
  DM_ASSIGN_OR_RETURN(
      auto rows, s.exec("WITH old AS (SELECT status FROM devices WHERE id = $1::uuid FOR UPDATE) "
                        "UPDATE devices d SET "
                        " last_seen_at = GREATEST(d.last_seen_at, $2::timestamptz),"
                        " battery_level = COALESCE($4::double precision, d.battery_level),"
                        " status = CASE WHEN $3::text IS NULL OR d.status = 'maintenance' THEN d.status ELSE $3 END,"
                        " version = d.version + CASE WHEN $3::text IS NOT NULL AND d.status <> 'maintenance'"
                        "                             AND d.status <> $3 THEN 1 ELSE 0 END "
                        "FROM old WHERE d.id = $1::uuid "
                        "RETURNING d.version, (old.status <> d.status) AS status_changed",
                        {state.id, state.last_seen_at, word_param(state.status), battery}));
  if (rows.empty()) return std::optional<StateChange>{};
  return std::optional<StateChange>(StateChange{.version = rows.get_int(0, 0), .status_changed = rows.get_bool(0, 1)});
}

}  // namespace dm::registry::store
