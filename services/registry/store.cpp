// The statements every kind shares (rows, documents, "in use", lists) and the functions' run
// reports. Table and view names come from kTables, column names from the route modules.
#include "store.hpp"

#include "dm/core/strings.hpp"
#include "store_rows.hpp"

namespace dm::registry::store {
namespace {

// The cast a column's text parameter needs; a column name has one type in every table.
std::string cast_of(std::string_view column) {
  for (std::string_view json :
       {"metadata", "configuration", "parameters", "nodes", "edges", "layout", "config", "config_public"}) {
    if (column == json) return "::jsonb";
  }
  return column == "enabled" ? "::boolean" : "";
}

// ", a = $2, b = $3::jsonb" after the parameters already bound (the id as $1). A function's
// code moves its version only if the text differs: both right-hand sides see the old row.
std::string assignments(Kind kind, const Columns& columns, db::Params& params) {
  std::string sets;
  for (const auto& [column, value] : columns.values) {
    params.push_back(value);
    const std::string n = "$" + std::to_string(params.size());
    if (kind == Kind::function && column == "code")
      sets += ", version = version + (code IS DISTINCT FROM " + n + ")::int, code = " + n;
    else
      sets += ", " + column + " = " + n + cast_of(column);
  }
  return sets;
}

// A substring pattern for ILIKE; NULL (no filter) when absent.
db::Param text_pattern(const std::optional<std::string>& text) {
  return text ? db::Param("%" + *text + "%") : std::nullopt;
}

}  // namespace

const db::Param* Columns::find(std::string_view column) const {
  for (const auto& [name, value] : values) {
    if (name == column) return &value;
  }
  return nullptr;
}

Result<std::string> insert_row(db::Session& s, Kind kind, const Columns& columns) {
  std::string names, refs;
  db::Params params;
  for (const auto& [column, value] : columns.values) {
    params.push_back(value);
    names += (names.empty() ? "" : ", ") + column;
    refs += (refs.empty() ? "$" : ", $") + std::to_string(params.size()) + cast_of(column);
  }
  DM_ASSIGN_OR_RETURN(
      auto rows, s.exec("INSERT INTO " + table(kind) + " (" + names + ") VALUES (" + refs + ") RETURNING id", params));
  return std::string(rows.get(0, 0));
}

Result<std::optional<std::int64_t>> update_row(db::Session& s, Kind kind, const std::string& id,
                                               const Columns& columns) {
  db::Params params{id};
  const std::string sets = assignments(kind, columns, params);
  const std::string v = version(kind);
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("UPDATE " + table(kind) + " SET " + v + " = " + v + " + 1, updated_at = now()" +
                                            sets + " WHERE id = $1::uuid RETURNING " + v,
                                        params));
  return first_int(rows);
}

Result<std::optional<std::int64_t>> delete_row(db::Session& s, Kind kind, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows,
                      s.exec("DELETE FROM " + table(kind) + " WHERE id = $1::uuid RETURNING " + version(kind), {id}));
  return first_int(rows);
}

Result<std::optional<std::string>> document(db::Session& s, Kind kind, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT doc FROM " + docs(kind) + " WHERE id = $1::uuid", {id}));
  return first_text(rows);
}

Result<std::optional<std::string>> document(db::Pool& db, Kind kind, const std::string& id) {
  return db.with_session([&](db::Session& s) { return document(s, kind, id); });
}

Result<bool> exists(db::Session& s, Kind kind, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT 1 FROM " + table(kind) + " WHERE id = $1::uuid", {id}));
  return !rows.empty();
}

Result<void> lock_row(db::Session& s, Kind kind, const std::string& id) {
  DM_TRY(s.exec("SELECT 1 FROM " + table(kind) + " WHERE id = $1::uuid FOR UPDATE", {id}));
  return ok();
}

Result<std::vector<std::string>> enabled_flows_using(db::Session& s, Kind kind, const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, s.exec("SELECT DISTINCT f.name FROM flow_refs r JOIN flows f ON f.id = r.flow_id "
                                        "WHERE r.kind = $1 AND r.entity_id = $2::uuid AND f.enabled ORDER BY f.name",
                                        {std::string(word(kind)), id}));
  std::vector<std::string> names;
  for (std::size_t i = 0; i < rows.size(); ++i) names.emplace_back(rows.get(i, 0));
  return names;
}

Result<Page> page(db::Pool& db, const ListQuery& query, const api::Sort& sort, const api::Paging& paging) {
  const std::string from = " FROM " + docs(query.kind) + " v" + query.where;
  DM_ASSIGN_OR_RETURN(auto count, db.exec("SELECT count(*)" + from, query.params));
  db::Params params = query.params;
  params.push_back(std::to_string(paging.limit));
  params.push_back(std::to_string(paging.skip));
  const auto n = params.size();
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("SELECT v.doc" + from + " ORDER BY v." + sort.column +
                                             (sort.descending ? " DESC NULLS LAST" : " ASC NULLS LAST") +
                                             ", v.id LIMIT $" + std::to_string(n - 1) + " OFFSET $" + std::to_string(n),
                                         params));
  return Page{.json = db::json_array(rows), .total = count.get_int(0, 0)};
}

// $1 a status, $2 a label's id, $3 a label's name, $4 a substring pattern; NULL: no filter.
const char* const kDeviceWhere =
    " WHERE ($1::text IS NULL OR v.status = $1)"
    " AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM device_labels dl WHERE dl.device_id = v.id AND dl.label_id = "
    "$2::uuid))"
    " AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM device_labels dl JOIN labels l ON l.id = dl.label_id"
    "      WHERE dl.device_id = v.id AND l.name = $3))"
    " AND ($4::text IS NULL OR v.name ILIKE $4 OR v.dev_eui ILIKE $4 OR v.description ILIKE $4)";

ListQuery devices_matching(const DeviceFilter& filter) {
  db::Params params{word_param(filter.status), std::nullopt, std::nullopt, text_pattern(filter.text)};
  if (filter.label) (is_uuid(*filter.label) ? params[1] : params[2]) = *filter.label;
  return {.kind = Kind::device, .where = kDeviceWhere, .params = std::move(params)};
}

ListQuery labels_matching(const std::optional<std::string>& text) {
  return {.kind = Kind::label,
          .where = " WHERE ($1::text IS NULL OR v.name ILIKE $1 OR v.description ILIKE $1)",
          .params = {text_pattern(text)}};
}

ListQuery functions_matching(const FunctionFilter& filter) {
  return {.kind = Kind::function,
          .where =
              " WHERE ($1::text IS NULL OR v.status = $1)"
              " AND ($2::text IS NULL OR v.name ILIKE $2 OR v.description ILIKE $2)",
          .params = {word_param(filter.status), text_pattern(filter.text)}};
}

ListQuery configs_matching(Kind kind, const ConfigFilter& filter) {
  ListQuery q{.kind = kind,
              .where =
                  " WHERE ($1::text IS NULL OR v.type = $1)"
                  " AND ($2::text IS NULL OR v.name ILIKE $2 OR v.description ILIKE $2)",
              .params = {word_param(filter.type), text_pattern(filter.text)}};
  if (kind == Kind::integration) {  // storages have no status
    q.params.push_back(word_param(filter.status));
    q.where += " AND ($3::text IS NULL OR v.status = $3)";
  }
  return q;
}

ListQuery flows_matching(const FlowFilter& filter) {
  return {.kind = Kind::flow,
          .where =
              " WHERE ($1::boolean IS NULL OR v.enabled = $1::boolean)"
              " AND ($2::text IS NULL OR v.name ILIKE $2 OR v.description ILIKE $2)",
          .params = {bool_param(filter.enabled), text_pattern(filter.text)}};
}

Result<std::size_t> record_function_runs(db::Pool& db, const std::vector<FunctionRun>& runs) {
  std::vector<std::string> ids, statuses, ats;
  for (const auto& run : runs) {
    ids.push_back(run.id);
    statuses.emplace_back(word(run.status));
    ats.push_back(run.at);
  }
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("UPDATE functions f SET status = u.status, last_run_at = u.at"
                                         " FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(id, status, at)"
                                         " WHERE f.id = u.id AND (f.last_run_at IS NULL OR f.last_run_at <= u.at)",
                                         {db::text_array(ids), db::text_array(statuses), db::text_array(ats)}));
  return rows.affected();
}

}  // namespace dm::registry::store
