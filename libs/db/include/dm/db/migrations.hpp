#pragma once
// Schema migrations carried inside each service binary (see dm_embed_migrations in
// cmake/dm.cmake, which generates `<ns>::migrations()` from NNNN_name.sql files).
#include <string_view>
#include <vector>

#include "dm/core/result.hpp"
#include "dm/db/db.hpp"

namespace dm::db {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Applies pending migrations in version order, each in its own transaction, and records
// (version, name, applied_at) in <schema>.schema_migrations.
//
// Several replicas may start at once: every migration transaction first takes
// pg_advisory_xact_lock keyed by the schema name and re-checks schema_migrations, so
// each migration is applied exactly once and the lock can never be left behind on a
// pooled connection.
//
// Each migration runs with search_path set to the schema only (unqualified names land
// there) and without statement_timeout (a migration may legitimately be slow). Its SQL
// must not contain transaction control (BEGIN/COMMIT) or statements that cannot run in
// a transaction (CREATE INDEX CONCURRENTLY).
//
// The schema must already exist and be usable by the connecting role (provisioning
// creates it with AUTHORIZATION <role>); if it is missing or lacks USAGE/CREATE for the
// role, returns Errc::unavailable saying so. Rejects versions that are not positive and
// strictly increasing (invalid_argument). A failing migration is rolled back, the ones
// before it stay recorded, and its error (prefixed with version and name) is returned.
// Returns the number of migrations this call applied.
Result<int> migrate(Pool& pool, std::string_view schema, const std::vector<Migration>& migrations);

}  // namespace dm::db
