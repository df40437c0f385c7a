#include "read_store.hpp"

namespace dm::dispatcher {
namespace {

constexpr const char* kSummary =
    "json_build_object('id', h.id, 'job_id', h.job_id, 'integration_id', h.target_id, 'flow_id', h.flow_id, "
    "'dev_eui', h.dev_eui, 'attempt', h.attempt, 'status', h.status, 'http_status', h.http_status, 'error', h.error, "
    "'duration_ms', h.duration_ms, 'created_at', h.created_at)";

std::vector<std::string> first_column(const db::Rows& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) out.emplace_back(rows.get(i, 0));
  return out;
}

// One page of a filtered list: the total of `from_where` (its parameters are $1..$n), and the
// page's `columns` (one JSON object as text) in `order`.
Result<Page> page_of(db::Pool& db, const std::string& columns, const std::string& from_where, const std::string& order,
                     db::Params params, const api::Paging& page) {
  DM_ASSIGN_OR_RETURN(auto count, db.exec("SELECT count(*) FROM " + from_where, params));
  const auto n = params.size();
  params.push_back(std::to_string(page.limit));
  params.push_back(std::to_string(page.skip));
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("SELECT (" + columns + ")::text FROM " + from_where + " ORDER BY " + order +
                                             " LIMIT $" + std::to_string(n + 1) + " OFFSET $" + std::to_string(n + 2),
                                         params));
  return Page{std::move(rows), count.get_int(0, 0)};
}

}  // namespace

Result<Page> history_page(db::Pool& db, const Opt& target, const Opt& status, const Opt& from, const Opt& to,
                          const api::Paging& page) {
  const std::string where =
      " WHERE h.kind = 'integration' AND ($1::uuid IS NULL OR h.target_id = $1::uuid) AND ($2::text IS NULL OR "
      "h.status = $2)"
      " AND ($3::timestamptz IS NULL OR h.created_at >= $3::timestamptz)"
      " AND ($4::timestamptz IS NULL OR h.created_at < $4::timestamptz)";
  return page_of(db, kSummary, "history h" + where, "h.created_at DESC, h.id", {target, status, from, to}, page);
}

Result<std::optional<std::string>> history_item(db::Pool& db, const std::string& target, const std::string& id) {
  DM_ASSIGN_OR_RETURN(
      auto rows,
      db.exec(std::string("SELECT (") + kSummary +
                  "::jsonb || jsonb_build_object('request', h.request, 'response', h.response, 'attempts', "
                  "(SELECT coalesce(jsonb_agg(" +
                  kSummary +
                  " ORDER BY a.attempt, a.created_at), '[]'::jsonb) "
                  "FROM history a WHERE a.job_id = h.job_id AND a.target_id = h.target_id)))::text "
                  "FROM history h WHERE h.id = $1::uuid AND h.target_id = $2::uuid AND h.kind = 'integration'",
              {id, target}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::string(rows.get(0, 0)));
}

Result<LetterPage> dead_letter_page(db::Pool& db, const std::string& target, const api::Paging& page) {
  DM_ASSIGN_OR_RETURN(auto count, db.exec("SELECT count(*) FROM dead_letters WHERE target_id = $1::uuid", {target}));
  LetterPage out{.total = count.get_int(0, 0)};
  DM_ASSIGN_OR_RETURN(
      auto rows,
      db.exec("SELECT json_build_object('id', id, 'job_id', job_id, 'integration_id', target_id, 'attempts', attempts, "
              "'last_error', last_error, 'created_at', created_at)::text, job::text FROM dead_letters "
              "WHERE target_id = $1::uuid ORDER BY created_at, id LIMIT $2 OFFSET $3",
              {target, std::to_string(page.limit), std::to_string(page.skip)}));
  out.letters.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    out.letters.push_back({std::string(rows.get(i, 0)), std::string(rows.get(i, 1))});
  return out;
}

Result<std::vector<std::string>> dead_letter_ids(db::Pool& db, const std::string& target, const Opt& one) {
  DM_ASSIGN_OR_RETURN(auto rows, db.exec("SELECT id FROM dead_letters WHERE target_id = $1::uuid AND ($2::uuid IS "
                                         "NULL OR id = $2::uuid) ORDER BY created_at LIMIT 10000",
                                         {target, one}));
  return first_column(rows);
}

Result<bool> requeue_dead_letter(db::Pool& db, const std::string& id,
                                 const std::function<Result<void>(const std::string& job)>& requeue) {
  return db.transaction([&](db::Session& s) -> Result<bool> {
    DM_ASSIGN_OR_RETURN(auto row, s.exec("DELETE FROM dead_letters WHERE id = $1::uuid RETURNING job::text", {id}));
    if (row.empty()) return false;  // requeued meanwhile
    DM_TRY(requeue(std::string(row.get(0, 0))));
    return true;
  });
}

Result<Page> records_page(db::Pool& db, const std::string& storage, const Opt& dev_eui, const Opt& from, const Opt& to,
                          const api::Paging& page) {
  const std::string where =
      " WHERE storage_id = $1::uuid AND ($2::text IS NULL OR dev_eui = lower($2))"
      " AND ($3::timestamptz IS NULL OR received_at >= $3::timestamptz)"
      " AND ($4::timestamptz IS NULL OR received_at < $4::timestamptz)";
  return page_of(db,
                 "json_build_object('id', id::text, 'storage_id', storage_id, 'job_id', job_id, 'dev_eui', dev_eui, "
                 "'flow_id', flow_id, 'time', received_at, 'data', data, 'stored_at', stored_at)",
                 "records" + where, "received_at DESC, id DESC", {storage, dev_eui, from, to}, page);
}

}  // namespace dm::dispatcher
