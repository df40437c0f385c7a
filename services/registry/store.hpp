#pragma once
// All SQL of the registry, behind named functions: what every kind shares and the functions'
// run reports (store.cpp), devices and labels (device_store.cpp), flows (flow_store.cpp),
// integrations and storages (config_store.cpp), search (search_store.cpp). Parameterised
// always; table, view and column names come from code, never from clients. Documents are rendered by PostgreSQL views
// (`*_docs`, see migrations/). A function that takes a Session runs inside its caller's
// transaction; one that takes the Pool runs on a connection of its own.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dm/api/query.hpp"
#include "dm/core/result.hpp"
#include "dm/db/db.hpp"
#include "domain.hpp"
#include "flow_graph.hpp"
#include "secrets.hpp"

namespace dm::registry::store {

// The column values of a create or update, as text (cast in SQL where the column needs it).
// Column names come from code.
struct Columns {
  std::vector<std::pair<std::string, db::Param>> values;
  void set(std::string column, db::Param value) { values.emplace_back(std::move(column), std::move(value)); }
  // The value set for `column`, or nullptr.
  const db::Param* find(std::string_view column) const;
};

// --- Rows of every kind (store.cpp)

// INSERT; the new row's id.
Result<std::string> insert_row(db::Session& s, Kind kind, const Columns& columns);
// UPDATE: `columns`, updated_at, and one more version (for a function its revision; its
// version grows only when a `code` column differs from the stored code). The new version,
// nullopt when no row has this id.
Result<std::optional<std::int64_t>> update_row(db::Session& s, Kind kind, const std::string& id,
                                               const Columns& columns);
// DELETE (a flow's references go with it); the version the row had, nullopt when unknown.
Result<std::optional<std::int64_t>> delete_row(db::Session& s, Kind kind, const std::string& id);
// The row's JSON document, nullopt when unknown.
Result<std::optional<std::string>> document(db::Session& s, Kind kind, const std::string& id);
Result<std::optional<std::string>> document(db::Pool& db, Kind kind, const std::string& id);
Result<bool> exists(db::Session& s, Kind kind, const std::string& id);
// Locks the row until commit (a flow saved meanwhile waits: it locks what it references).
Result<void> lock_row(db::Session& s, Kind kind, const std::string& id);
// Names of the enabled flows whose nodes reference the entity, by name; empty when none.
Result<std::vector<std::string>> enabled_flows_using(db::Session& s, Kind kind, const std::string& id);

// --- Lists (store.cpp)

// The documents of `kind` that `where` selects (alias v; it uses $1..$n of `params`).
struct ListQuery {
  Kind kind;
  std::string where;
  db::Params params;
};
struct Page {
  std::string json;  // [doc, ...]
  std::int64_t total = 0;
};
// One page, sorted by an allow-listed column (then by id), and the total of matching rows.
Result<Page> page(db::Pool& db, const ListQuery& query, const api::Sort& sort, const api::Paging& paging);

// `text` matches names, descriptions (and dev_euis) as a substring, case-insensitively.
struct DeviceFilter {
  std::optional<DeviceStatus> status;
  std::optional<std::string> label;  // a label's id or name
  std::optional<std::string> text;
};
ListQuery devices_matching(const DeviceFilter& filter);
ListQuery labels_matching(const std::optional<std::string>& text);
struct FunctionFilter {
  std::optional<FunctionStatus> status;
  std::optional<std::string> text;
};
ListQuery functions_matching(const FunctionFilter& filter);
struct ConfigFilter {
  std::optional<ConfigType> type;
  std::optional<std::string> text;
  std::optional<IntegrationStatus> status;  // integrations only (storages have none)
};
ListQuery configs_matching(Kind kind, const ConfigFilter& filter);
struct FlowFilter {
  std::optional<bool> enabled;
  std::optional<std::string> text;
};
ListQuery flows_matching(const FlowFilter& filter);

// --- Devices and labels (device_store.cpp)

// Replaces the device's labels; the position of the first id that names no label, if any
// (the caller then rolls back).
Result<std::optional<std::size_t>> replace_device_labels(db::Session& s, const std::string& device_id,
                                                         const std::vector<std::string>& label_ids);
// The device's labels as a JSON array of label documents, by name.
Result<std::string> device_labels(db::Session& s, const std::string& device_id);
// Idempotent.
Result<void> add_device_label(db::Session& s, const std::string& device_id, const std::string& label_id);
// False when the device did not have the label.
Result<bool> remove_device_label(db::Session& s, const std::string& device_id, const std::string& label_id);

// The compact device view ingest and the orchestrator cache (device_cache_docs).
Result<std::string> device_directory(db::Pool& db);  // JSON array, by dev_eui
Result<std::optional<std::string>> directory_entry(db::Pool& db, const std::string& id);
Result<std::optional<std::string>> directory_entry_by_eui(db::Pool& db, const std::string& dev_eui);

// One device's state as ingest reports it.
struct DeviceState {
  std::string id;
  std::optional<std::string> last_seen_at;  // RFC 3339; only ever moves forward
  std::optional<DeviceStatus> status;       // ignored while the device is in maintenance
  std::optional<double> battery_level;
};
struct StateChange {
  std::string id;
  std::int64_t version = 0;
  bool status_changed = false;  // only a status change bumps the version
};
// Applies the states in order, one statement for all of them (one more for each repeat of an
// id, so a device reported twice is updated twice, as one statement each would); devices gone
// meanwhile have no change.
Result<std::vector<StateChange>> update_device_states(db::Session& s, const std::vector<DeviceState>& states);

// --- Functions (store.cpp)

// The runner's reports: a function's status and last run time, unless a later run is stored.
struct FunctionRun {
  std::string id;
  FunctionStatus status;
  std::string at;  // RFC 3339
};
// The number of functions updated.
Result<std::size_t> record_function_runs(db::Pool& db, const std::vector<FunctionRun>& runs);

// --- Flows (flow_store.cpp)

// Which of `ids` are rows of `kind`; those are locked (KEY SHARE) until commit, so a
// concurrent delete of one waits for this transaction and then sees its flow references.
Result<std::set<std::string>> existing_ids(db::Session& s, Kind kind, const std::vector<std::string>& ids);
// flow_refs mirrors a flow's nodes: which entities it uses (for "in use" checks).
Result<void> replace_flow_refs(db::Session& s, const std::string& flow_id, const std::vector<FlowNode>& nodes);
// The stored graph an update starts from, locked until commit; nullopt when unknown.
struct StoredGraph {
  std::string nodes, edges;  // JSON
  bool enabled = false;
};
Result<std::optional<StoredGraph>> lock_flow(db::Session& s, const std::string& id);
// Flows as the orchestrator reads them.
struct FlowRow {
  std::string id, name;
  bool enabled = false;
  std::int64_t version = 0;
  std::string nodes, edges;  // JSON
};
Result<std::vector<FlowRow>> flow_rows(db::Pool& db, std::optional<bool> enabled);  // by id
Result<std::optional<FlowRow>> flow_row(db::Pool& db, const std::string& id);

// --- Integrations and storages (config_store.cpp); `kind` is one of the two.

struct StoredConfig {
  ConfigType type;
  std::string config;  // JSON, secrets sealed
};
// The stored type and config, locked until commit; nullopt when unknown.
Result<std::optional<StoredConfig>> lock_config(db::Session& s, Kind kind, const std::string& id);
// The public document with the stored (sealed) config beside it; nullopt when unknown.
struct ConfigDocument {
  std::string doc;
  StoredConfig stored;
};
Result<std::optional<ConfigDocument>> config_document(db::Pool& db, Kind kind, const std::string& id);
// The dispatcher's report; false when no integration has this id. Not a definition change.
Result<bool> set_integration_status(db::Pool& db, const std::string& id, IntegrationStatus status,
                                    const std::optional<std::string>& last_error);
// Every stored config, locked, under an advisory lock that replicas starting together share.
struct ConfigRow {
  std::string id;
  StoredConfig stored;
};
Result<std::vector<ConfigRow>> lock_all_configs(db::Session& s, Kind kind);
// Writes both forms of a config unless they are already so; whether it wrote.
Result<bool> rewrite_config(db::Session& s, Kind kind, const std::string& id, const SealedConfig& config);

// --- Search (search_store.cpp)

struct SearchQuery {
  std::string text;
  std::int64_t limit = 10;  // per kind
  std::vector<Kind> kinds;  // the groups of the answer, in this order
};
// {"query", "results": {<plural>: [hit, ...]}, "total"}, best hits first.
Result<std::string> search(db::Pool& db, const SearchQuery& query);

}  // namespace dm::registry::store
