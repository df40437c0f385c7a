// Integrations and storages: the stored config beside the public document, the dispatcher's
// status reports, and the start-up pass that brings stored secrets under today's rule.
#include "store.hpp"
#include "store_rows.hpp"

namespace dm::registry::store {
namespace {

// The type column holds one of the words (a CHECK constraint keeps it so).
Result<StoredConfig> stored_config(std::string_view type, std::string_view config) {
  auto parsed = parse_word<ConfigType>(type);
  if (!parsed) return make_error(Errc::internal, "stored config type '" + std::string(type) + "' is unknown");
  return StoredConfig{.type = *parsed, .config = std::string(config)};
}

}  // namespace

Result<std::optional<StoredConfig>> lock_config(db::Session& s, Kind kind, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows,
                      s.exec("SELECT type, config FROM " + table(kind) + " WHERE id = $1::uuid FOR UPDATE", {id}));
  if (rows.empty()) return std::optional<StoredConfig>{};
  DM_ASSIGN_OR_RETURN(auto stored, stored_config(rows.get(0, 0), rows.get(0, 1)));
  return std::optional<StoredConfig>(std::move(stored));
}

Result<std::optional<ConfigDocument>> config_document(db::Pool& db, Kind kind, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("SELECT v.doc, t.type, t.config FROM " + docs(kind) + " v JOIN " +
                                             table(kind) + " t ON t.id = v.id WHERE v.id = $1::uuid",
                                         {id}));
  if (rows.empty()) return std::optional<ConfigDocument>{};
  DM_ASSIGN_OR_RETURN(auto stored, stored_config(rows.get(0, 1), rows.get(0, 2)));
  return std::optional<ConfigDocument>(ConfigDocument{.doc = std::string(rows.get(0, 0)), .stored = std::move(stored)});
}

Result<bool> set_integration_status(db::Pool& db, const std::string& id, IntegrationStatus status,
                                    const std::optional<std::string>& last_error) {
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("UPDATE " + table(Kind::integration) +
                                             " SET status = $2, last_error = $3 WHERE id = $1::uuid RETURNING id",
                                         {id, std::string(word(status)), last_error}));
  return !rows.empty();
}

Result<std::vector<ConfigRow>> lock_all_configs(db::Session& s, Kind kind) {
  DM_TRY(s.exec("SELECT pg_advisory_xact_lock(hashtext($1))", {"registry.reseal." + table(kind)}));
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT id, type, config FROM " + table(kind) + " FOR UPDATE"));
  std::vector<ConfigRow> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    DM_ASSIGN_OR_RETURN(auto stored, stored_config(rows.get(i, 1), rows.get(i, 2)));
    out.push_back({.id = std::string(rows.get(i, 0)), .stored = std::move(stored)});
  }
  return out;
}

Result<bool> rewrite_config(db::Session& s, Kind kind, const std::string& id, const SealedConfig& config) {
  // Rows already so compare equal (jsonb) and are not written.
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("UPDATE " + table(kind) +
                                            " SET config = $2::jsonb, config_public = $3::jsonb WHERE id = $1::uuid"
                                            " AND (config <> $2::jsonb OR config_public <> $3::jsonb)",
                                        {id, config.stored, config.shown}));
  return rows.affected() > 0;
}

}  // namespace dm::registry::store
