#include "dm/db/migrations.hpp"

#include <set>
#include <string>

#include "dm/core/log.hpp"

namespace dm::db {

namespace {

Result<void> check_list(const std::vector<Migration>& migrations) {
  int previous = 0;
  for (const auto& m : migrations) {
    if (!m.name || !m.sql)
      return Error(Errc::invalid_argument, "migration " + std::to_string(m.version) + " has no name or SQL");
    if (m.version <= 0)
      return Error(Errc::invalid_argument, "migration version must be positive: " + std::to_string(m.version));
    if (m.version <= previous)
      return Error(Errc::invalid_argument, "migration versions must be unique and increasing: " +
                                               std::to_string(m.version) + " after " + std::to_string(previous));
    previous = m.version;
  }
  return {};
}

// The service's role gets its schema from provisioning; creating it here would need
// rights the role must not have, so a missing schema is an operator error to report.
Result<void> check_schema(Pool& pool, const std::string& schema) {
  DM_ASSIGN_OR_RETURN(auto found, pool.exec("SELECT has_schema_privilege(oid, 'USAGE') AND has_schema_privilege(oid, "
                                            "'CREATE'), current_user FROM pg_namespace WHERE nspname = $1",
                                            {schema}));
  if (found.empty()) {
    return Error(Errc::unavailable, "schema \"" + schema + "\" does not exist: provision it first (CREATE SCHEMA " +
                                        quote_identifier(schema) + " AUTHORIZATION <service role>)");
  }
  if (!found.get_bool(0, 0)) {
    return Error(Errc::unavailable, "role \"" + std::string(found.get(0, 1)) + "\" lacks USAGE or CREATE on schema \"" +
                                        schema + "\": provision the schema with AUTHORIZATION for this role");
  }
  return {};
}

// The migrations not recorded in `table` yet, read without the lock: on an up-to-date schema
// there is nothing to do and nothing to wait for.
Result<std::vector<const Migration*>> pending_migrations(Pool& pool, const std::string& table,
                                                         const std::vector<Migration>& migrations) {
  std::set<int> applied;
  DM_ASSIGN_OR_RETURN(auto exists, pool.exec("SELECT to_regclass($1) IS NOT NULL", {table}));
  if (exists.get_bool(0, 0)) {
    DM_ASSIGN_OR_RETURN(auto versions, pool.exec("SELECT version FROM " + table));
    for (std::size_t i = 0; i < versions.size(); ++i) applied.insert(static_cast<int>(versions.get_int(i, 0)));
  }
  std::vector<const Migration*> pending;
  for (const auto& m : migrations) {
    if (!applied.count(m.version)) pending.push_back(&m);
  }
  return pending;
}

// How every migration transaction of one schema begins: its settings, then the schema's lock.
struct SchemaLock {
  explicit SchemaLock(const std::string& schema)
      : key{"dm.migrate:" + schema},
        // READ COMMITTED so the re-check after the lock sees what another replica committed
        // while we waited; no statement_timeout so waiting behind a slow migration is fine.
        setup(
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; SET LOCAL statement_timeout = 0; "
            "SET LOCAL search_path TO " +
            quote_identifier(schema)) {}

  Result<void> take(Session& s) const {
    DM_TRY(s.exec_script(setup));
    // One 64-bit advisory lock key per schema, from documented functions only.
    DM_TRY(s.exec("SELECT pg_advisory_xact_lock(('x' || left(md5($1), 16))::bit(64)::bigint)", key));
    return {};
  }

  const Params key;
  const std::string setup;
};

// Applies one migration under the lock; false when another replica applied it while we waited.
Result<bool> apply(Pool& pool, const SchemaLock& lock, const std::string& schema, const std::string& table,
                   const Migration& m) {
  const std::string version = std::to_string(m.version);
  return pool.transaction([&](Session& s) -> Result<bool> {
    DM_TRY(lock.take(s));
    DM_ASSIGN_OR_RETURN(auto seen, s.exec("SELECT 1 FROM " + table + " WHERE version = $1", {version}));
    if (!seen.empty()) return false;  // another replica applied it while we waited
    if (auto r = s.exec_script(m.sql); !r.ok()) {
      Error e = r.take_error();
      return Error(e.code,
                   "migration " + version + " (" + m.name + ") of schema \"" + schema + "\" failed: " + e.message);
    }
    DM_TRY(s.exec("INSERT INTO " + table + " (version, name) VALUES ($1, $2)", {version, std::string(m.name)}));
    return true;
  });
}

}  // namespace

Result<int> migrate(Pool& pool, std::string_view schema_name, const std::vector<Migration>& migrations) {
  const std::string schema(schema_name);
  if (schema.empty()) return Error(Errc::invalid_argument, "migrate: schema name is empty");
  DM_TRY(check_list(migrations));
  DM_TRY(check_schema(pool, schema));

  const std::string table = quote_identifier(schema) + ".schema_migrations";
  DM_ASSIGN_OR_RETURN(auto pending, pending_migrations(pool, table, migrations));
  if (pending.empty()) return 0;

  // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog, hence the lock.
  const SchemaLock lock(schema);
  auto created = pool.transaction([&](Session& s) -> Result<void> {
    DM_TRY(lock.take(s));
    DM_TRY(s.exec("CREATE TABLE IF NOT EXISTS " + table +
                  " (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"));
    return {};
  });
  if (!created.ok()) return created.take_error();

  int count = 0;
  for (const Migration* m : pending) {
    DM_ASSIGN_OR_RETURN(bool ran, apply(pool, lock, schema, table, *m));
    if (ran) {
      ++count;
      dm::log::info("migration applied", {{"schema", schema}, {"version", m->version}, {"name", m->name}});
    }
  }
  return count;
}

}  // namespace dm::db
