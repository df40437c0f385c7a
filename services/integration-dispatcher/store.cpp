#include "store.hpp"

#include "dm/core/text.hpp"

namespace dm::dispatcher {
namespace {

const std::vector<std::string> kHistoryColumns = {"id",          "job_id",  "target_id", "kind",        "flow_id",
                                                  "dev_eui",     "attempt", "status",    "http_status", "error",
                                                  "duration_ms", "request", "response"};

db::Param text_or_null(const std::string& s, bool degraded) {
  if (s.empty()) return std::nullopt;
  return degraded ? printable(s, 512) : s;
}

// The job as the dead letter keeps it: as received, unless PostgreSQL refused the record and
// the job is not even UTF-8 (the json column would refuse it again); then its printable text,
// so that the operator still sees it.
std::string dead_letter_job(const Record& r) {
  const Job& j = *r.job;
  if (!r.degraded || valid_utf8(j.raw)) return j.raw;
  json::Writer w;
  w.start_object()
      .field("job_id", j.job_id)
      .field("kind", contract::to_string(j.kind))
      .field("target_id", j.target_id)
      .field("unreadable_job", printable(j.raw, 64 << 10))
      .end_object();
  return w.take();
}

struct Rows {
  std::vector<db::Params> history, dead, records;
  bool idempotent = false;
};

Rows rows_of(std::span<const Record> batch) {
  using Status = contract::DeliveryStatus;
  Rows out;
  for (const auto& r : batch) {
    const Job& j = *r.job;
    const std::string kind(contract::to_string(j.kind)), status(contract::to_string(r.status));
    const Outcome& o = r.outcome;
    // Errors may quote a remote end (a PostgreSQL storage's server message): text columns take
    // valid UTF-8 only.
    const db::Param error = o.error ? db::Param(to_valid_utf8(*o.error)) : std::nullopt;
    out.idempotent = out.idempotent || r.maybe_written;
    out.history.push_back({r.id, j.job_id, j.target_id, kind, text_or_null(j.flow_id, r.degraded),
                           text_or_null(j.dev_eui, r.degraded), std::to_string(r.attempt), status,
                           o.http_status ? db::Param(std::to_string(*o.http_status)) : std::nullopt, error,
                           std::to_string(o.duration_ms), o.request.empty() ? db::Param() : o.request,
                           o.response.empty() ? db::Param() : o.response});
    if (r.status == Status::dead_lettered) {
      out.dead.push_back(
          {r.dead_letter_id, j.job_id, j.target_id, kind, dead_letter_job(r), std::to_string(r.attempt), error});
    }
    if (r.store_internal && r.status == Status::delivered) {
      out.records.push_back({j.job_id, j.target_id, j.dev_eui.empty() ? db::Param() : j.dev_eui,
                             j.flow_id.empty() ? db::Param() : j.flow_id, j.message, j.created_at});
    }
  }
  return out;
}

}  // namespace

Result<void> write_records(db::Pool& db, std::span<const Record> batch) {
  auto rows = rows_of(batch);
  return db.transaction([&](db::Session& s) -> Result<void> {
    if (rows.idempotent) {
      // Some of these rows may be in already (a commit whose answer was lost): the ids made
      // with each record make the repeat add nothing.
      DM_TRY(db::insert_rows(s, "history", kHistoryColumns, rows.history, "ON CONFLICT (id) DO NOTHING"));
    } else {
      DM_TRY(s.copy_in("history", kHistoryColumns, rows.history));  // the fastest path, for the usual case
    }
    if (!rows.dead.empty()) {
      DM_TRY(db::insert_rows(s, "dead_letters", {"id", "job_id", "target_id", "kind", "job", "attempts", "last_error"},
                             rows.dead,
                             "ON CONFLICT (job_id) DO UPDATE SET id = EXCLUDED.id, attempts = EXCLUDED.attempts, "
                             "last_error = EXCLUDED.last_error, job = EXCLUDED.job, created_at = now()"));
    }
    if (!rows.records.empty()) {
      DM_TRY(db::insert_rows(s, "records", {"job_id", "storage_id", "dev_eui", "flow_id", "data", "received_at"},
                             rows.records, "ON CONFLICT (job_id) DO NOTHING"));
    }
    return ok();
  });
}

Result<std::unordered_map<std::string, JobState>> job_states(db::Pool& db, const std::vector<std::string>& job_ids) {
  std::unordered_map<std::string, JobState> out;
  if (job_ids.empty()) return out;
  // A job is finished when its last row that is not `retrying` says delivered or failed (a
  // dead letter retried from the API is not). Its attempts are the `retrying` rows since then:
  // a retried dead letter starts again with all its attempts. Joins on unnest probe
  // history_job_idx once per id (with `= ANY($1)` and a long list PostgreSQL chose to scan
  // the whole table instead).
  DM_ASSIGN_OR_RETURN(
      auto rows,
      db.exec("SELECT j.id, coalesce(f.status IN ('delivered', 'failed'), false), coalesce(a.attempts, 0),"
              "       a.last_error"
              " FROM unnest($1::text[]) AS j(id)"
              " LEFT JOIN LATERAL ("
              "   SELECT x.status, x.created_at FROM history x"
              "   WHERE x.job_id = j.id AND x.status <> 'retrying' ORDER BY x.created_at DESC LIMIT 1"
              " ) f ON true"
              " LEFT JOIN LATERAL ("
              "   SELECT count(*) FILTER (WHERE h.status = 'retrying') AS attempts,"
              "          (array_agg(h.error ORDER BY h.created_at DESC))[1] AS last_error"
              "   FROM history h WHERE h.job_id = j.id AND h.created_at > coalesce(f.created_at, '-infinity')"
              " ) a ON true",
              {db::text_array(job_ids)}));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out.emplace(std::string(rows.get(i, 0)),
                JobState{rows.get_bool(i, 1), static_cast<int>(rows.get_int(i, 2)), rows.opt(i, 3)});
  }
  return out;
}

Result<std::size_t> prune_history(db::Pool& db, int days) {
  DM_ASSIGN_OR_RETURN(
      auto rows,
      db.exec("DELETE FROM history WHERE created_at < now() - make_interval(days => $1::int)", {std::to_string(days)}));
  return rows.affected();
}

}  // namespace dm::dispatcher
