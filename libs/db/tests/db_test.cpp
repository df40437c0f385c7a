#include "dm/db/db.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "dm/db/batch.hpp"
#include "dm/db/migrations.hpp"
#include "dm/testing/testing.hpp"

// The pimpl promise: code using dm::db does not see libpq.
#ifdef LIBPQ_FE_H
#error "dm/db headers must not include libpq-fe.h"
#endif

using dm::Errc;
using dm::db::Migration;
using dm::db::Params;
using dm::db::Pool;
using dm::db::PoolOptions;
using dm::db::Session;
using namespace std::chrono_literals;

namespace {

// One PostgreSQL for the whole run: starting a cluster costs seconds.
struct Fixture {
  dm::testing::PgCluster pg;
  std::string url;
  Fixture() : url(pg.create_database("dmdb")) {}
};

Fixture& fx() {
  static Fixture f;
  return f;
}

void psql(const std::string& sql) {
  auto r = fx().pg.psql("dmdb", sql);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
}

std::unique_ptr<Pool> open_pool(PoolOptions o = {}) {
  if (o.url.empty()) o.url = fx().url;
  auto p = Pool::open(o);
  REQUIRE(p.ok());
  return std::move(p).value();
}

std::string role_url(const std::string& role) {
  return "postgresql://" + role + "@127.0.0.1:" + std::to_string(fx().pg.port()) + "/dmdb";
}

template <typename T>
Errc code_of(const dm::Result<T>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().code;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("db exec binds parameters, NULL and unicode, and reads typed values") {
  auto pool = open_pool();
  REQUIRE(pool->exec("CREATE TABLE items (id bigint PRIMARY KEY, name text, note text, on_ boolean, x float8)").ok());
  const std::string name = "Grüße, 東京 🌍 \"quoted\" 'single'";
  auto ins = pool->exec("INSERT INTO items VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        {"9000000000", name, std::nullopt, "true", "2.5"});
  REQUIRE(ins.ok());
  REQUIRE(ins->size() == 1);
  REQUIRE(ins->get_int(0, 0) == 9000000000LL);
  REQUIRE(ins->affected() == 1);

  auto rows = pool->exec("SELECT id, name, note, on_, x FROM items WHERE id = $1", {"9000000000"});
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  REQUIRE(rows->columns() == 5);
  REQUIRE(rows->column("name") == 1);
  REQUIRE(rows->column("NAME") == -1);
  REQUIRE(rows->column("absent") == -1);
  REQUIRE(rows->get(0, rows->column("name")) == name);
  REQUIRE(rows->opt(0, 1).value() == name);
  REQUIRE(rows->is_null(0, 2));
  REQUIRE(rows->get(0, 2).empty());
  REQUIRE_FALSE(rows->opt(0, 2).has_value());
  REQUIRE(rows->get_bool(0, 3));
  REQUIRE(rows->get_double(0, 4) == 2.5);
  // Out of range reads as NULL rather than crashing.
  REQUIRE(rows->is_null(5, 0));
  REQUIRE(rows->get(0, -1).empty());
  REQUIRE(rows->get(0, 99).empty());

  auto none = pool->exec("SELECT id FROM items WHERE id = $1", {"1"});
  REQUIRE(none.ok());
  REQUIRE(none->empty());

  auto upd = pool->exec("UPDATE items SET note = $1 WHERE id > $2", {"n", "0"});
  REQUIRE(upd.ok());
  REQUIRE(upd->affected() == 1);

  // PostgreSQL text cannot hold NUL, and libpq would silently cut the value there.
  auto nul = pool->exec("SELECT $1::text", {std::string("a\0b", 3)});
  REQUIRE(code_of(nul) == Errc::invalid_argument);
  REQUIRE(contains(nul.error().message, "$1"));
}

TEST_CASE("db parameters are data, never SQL") {
  auto pool = open_pool();
  REQUIRE(pool->exec("CREATE TABLE victims (v text)").ok());
  const std::string evil = "x'); DROP TABLE victims; --";
  REQUIRE(pool->exec("INSERT INTO victims (v) VALUES ($1)", {evil}).ok());
  auto rows = pool->exec("SELECT v FROM victims");
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  REQUIRE(rows->get(0, 0) == evil);
  REQUIRE(dm::db::quote_identifier("a\"b") == "\"a\"\"b\"");
}

TEST_CASE("db translates SQLSTATEs into Errc with the server's message") {
  auto pool = open_pool();
  REQUIRE(pool->with_session([](Session& s) -> dm::Result<void> {
                DM_TRY(
                    s.exec_script("CREATE TABLE parents (id int PRIMARY KEY);"
                                  "CREATE TABLE kids (id int PRIMARY KEY, parent int NOT NULL REFERENCES parents,"
                                  " age int CHECK (age >= 0));"
                                  "INSERT INTO parents VALUES (1)"));
                return {};
              })
              .ok());

  auto dup = pool->exec("INSERT INTO parents VALUES ($1)", {"1"});
  REQUIRE(code_of(dup) == Errc::conflict);
  REQUIRE(contains(dup.error().message, "23505"));
  REQUIRE(contains(dup.error().message, "duplicate key"));
  REQUIRE(contains(dup.error().message, "already exists"));  // the detail

  auto fk = pool->exec("INSERT INTO kids VALUES (1, $1, 1)", {"42"});
  REQUIRE(code_of(fk) == Errc::conflict);
  REQUIRE(contains(fk.error().message, "23503"));

  auto bad_int = pool->exec("INSERT INTO parents VALUES ($1)", {"abc"});
  REQUIRE(code_of(bad_int) == Errc::invalid_argument);
  REQUIRE(contains(bad_int.error().message, "22P02"));

  auto null = pool->exec("INSERT INTO kids VALUES (2, $1, 1)", {std::nullopt});
  REQUIRE(code_of(null) == Errc::invalid_argument);
  REQUIRE(contains(null.error().message, "23502"));

  auto check = pool->exec("INSERT INTO kids VALUES (3, 1, $1)", {"-1"});
  REQUIRE(code_of(check) == Errc::invalid_argument);
  REQUIRE(contains(check.error().message, "23514"));

  auto range = pool->exec("SELECT $1::int", {"99999999999"});
  REQUIRE(code_of(range) == Errc::invalid_argument);

  auto syntax = pool->exec("SELEC 1");
  REQUIRE(code_of(syntax) == Errc::internal);
  REQUIRE(contains(syntax.error().message, "42601"));
  REQUIRE(contains(syntax.error().message, "syntax error"));
  REQUIRE_FALSE(contains(syntax.error().message, "postgresql://"));

  // exec is one statement with parameters; scripts go through exec_script.
  auto two = pool->exec("SELECT 1; SELECT 2");
  REQUIRE(code_of(two) == Errc::internal);

  // COPY through exec is refused, and the connection stays usable.
  auto small = open_pool({.size = 1});
  REQUIRE(code_of(small->exec("COPY parents FROM STDIN")) == Errc::invalid_argument);
  REQUIRE(small->exec("SELECT 1").ok());
  REQUIRE(small->stats().idle == 1);
  REQUIRE(pool->stats().errors >= 8);
}

TEST_CASE("db transaction commits on ok and rolls back on error") {
  auto pool = open_pool();
  REQUIRE(pool->exec("CREATE TABLE ledger (id int PRIMARY KEY, v text)").ok());

  auto committed = pool->transaction([](Session& s) -> dm::Result<std::size_t> {
    DM_TRY(s.exec("INSERT INTO ledger VALUES (1, $1)", {"a"}));
    DM_ASSIGN_OR_RETURN(auto r, s.exec("INSERT INTO ledger VALUES (2, $1)", {"b"}));
    return r.affected() + 1;
  });
  REQUIRE(committed.ok());
  REQUIRE(*committed == 2);

  auto failed = pool->transaction([](Session& s) -> dm::Result<void> {
    DM_TRY(s.exec("INSERT INTO ledger VALUES (3, $1)", {"c"}));
    return dm::make_error(Errc::not_found, "business rule says no");
  });
  REQUIRE(code_of(failed) == Errc::not_found);
  REQUIRE(failed.error().message == "business rule says no");

  auto sql_failed = pool->transaction([](Session& s) -> dm::Result<void> {
    DM_TRY(s.exec("INSERT INTO ledger VALUES (4, $1)", {"d"}));
    DM_TRY(s.exec("INSERT INTO ledger VALUES (1, $1)", {"dup"}));
    return {};
  });
  REQUIRE(code_of(sql_failed) == Errc::conflict);

  // A swallowed statement error must not look like a successful commit.
  auto swallowed = pool->transaction([](Session& s) -> dm::Result<void> {
    DM_TRY(s.exec("INSERT INTO ledger VALUES (5, $1)", {"e"}));
    (void)s.exec("INSERT INTO ledger VALUES (1, $1)", {"dup"});
    return {};
  });
  REQUIRE_FALSE(swallowed.ok());

  // with_session: no transaction; one left open is rolled back on return.
  REQUIRE(pool->with_session([](Session& s) -> dm::Result<void> {
                DM_TRY(s.exec("BEGIN"));
                DM_TRY(s.exec("INSERT INTO ledger VALUES (6, $1)", {"f"}));
                return {};
              })
              .ok());

  auto ids = pool->exec("SELECT id FROM ledger ORDER BY id");
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 2);
  REQUIRE(ids->get_int(0, 0) == 1);
  REQUIRE(ids->get_int(1, 0) == 2);
  auto st = pool->stats();
  REQUIRE(st.in_use == 0);
  REQUIRE(st.idle >= 1);
}

TEST_CASE("db copy_in escapes tabs, newlines, backslashes and NULL") {
  auto pool = open_pool();
  REQUIRE(pool->exec("CREATE SCHEMA copy_s").ok());
  REQUIRE(pool->exec("CREATE TABLE copy_s.\"Copy T\" (id int, v text, w text)").ok());
  std::vector<Params> rows = {
      {"1", "tab\there", std::nullopt},
      {"2", "line\nbreak\r\nwindows", "back\\slash \\N \\."},
      {"3", "\\N", ""},
      {"4", "\\.", "ünïcödé\t\n"},
  };
  auto copied = pool->with_session([&](Session& s) { return s.copy_in("copy_s.Copy T", {"id", "v", "w"}, rows); });
  REQUIRE(copied.ok());
  REQUIRE(*copied == rows.size());

  auto back = pool->exec("SELECT id, v, w FROM copy_s.\"Copy T\" ORDER BY id");
  REQUIRE(back.ok());
  REQUIRE(back->size() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    REQUIRE(back->opt(i, 1) == rows[i][1]);
    REQUIRE(back->opt(i, 2) == rows[i][2]);
  }

  // Many rows go in several 64 KiB chunks.
  std::vector<Params> many;
  for (int i = 0; i < 20000; ++i) many.push_back({std::to_string(i + 10), "v\t" + std::to_string(i), std::nullopt});
  auto big = pool->with_session([&](Session& s) { return s.copy_in("copy_s.Copy T", {"id", "v", "w"}, many); });
  REQUIRE(big.ok());
  REQUIRE(*big == many.size());

  auto errors = pool->with_session([&](Session& s) -> dm::Result<void> {
    auto wrong_width = s.copy_in("copy_s.Copy T", {"id", "v"}, {{"1"}});
    REQUIRE(code_of(wrong_width) == Errc::invalid_argument);
    auto bad_value = s.copy_in("copy_s.Copy T", {"id"}, {{"not a number"}});
    REQUIRE(code_of(bad_value) == Errc::invalid_argument);
    auto no_table = s.copy_in("copy_s.nope", {"id"}, {{"1"}});
    REQUIRE(code_of(no_table) == Errc::internal);
    // The session is still usable after failed COPYs.
    DM_TRY(s.exec("SELECT 1"));
    return {};
  });
  REQUIRE(errors.ok());
}

TEST_CASE("db insert_rows batches rows and honours the suffix") {
  auto pool = open_pool();
  REQUIRE(pool->exec("CREATE TABLE batch (id int PRIMARY KEY, v text)").ok());
  auto first = pool->with_session([](Session& s) {
    return dm::db::insert_rows(s, "batch", {"id", "v"}, {{"1", "a"}, {"2", std::nullopt}, {"3", "c"}});
  });
  REQUIRE(first.ok());
  REQUIRE(*first == 3);

  auto again = pool->with_session([](Session& s) {
    return dm::db::insert_rows(s, "public.batch", {"id", "v"}, {{"2", "x"}, {"3", "y"}, {"4", "d"}},
                               "ON CONFLICT DO NOTHING");
  });
  REQUIRE(again.ok());
  REQUIRE(*again == 1);

  auto dup = pool->with_session([](Session& s) {
    return dm::db::insert_rows(s, "batch", {"id", "v"}, {{"4", "again"}});
  });
  REQUIRE(code_of(dup) == Errc::conflict);

  // More rows than a VALUES list could bind (65535 parameters): still one statement.
  std::vector<Params> many;
  for (int i = 0; i < 40000; ++i) many.push_back({std::to_string(1000 + i), "m"});
  auto big = pool->transaction([&](Session& s) { return dm::db::insert_rows(s, "batch", {"id", "v"}, many); });
  REQUIRE(big.ok());
  REQUIRE(*big == many.size());

  auto empty = pool->with_session([](Session& s) { return dm::db::insert_rows(s, "batch", {"id", "v"}, {}); });
  REQUIRE(empty.ok());
  REQUIRE(*empty == 0);
  auto ragged = pool->with_session([](Session& s) { return dm::db::insert_rows(s, "batch", {"id", "v"}, {{"9"}}); });
  REQUIRE(code_of(ragged) == Errc::invalid_argument);

  auto count = pool->exec("SELECT count(*), count(v) FROM batch");
  REQUIRE(count->get_int(0, 0) == 4 + 40000);
  REQUIRE(count->get_int(0, 1) == 3 + 40000);

  auto no_column = pool->with_session([](Session& s) {
    return dm::db::insert_rows(s, "batch", {"id", "w"}, {{"9", "x"}});
  });
  REQUIRE(code_of(no_column) == Errc::invalid_argument);
  auto bad_value = pool->with_session([](Session& s) { return dm::db::insert_rows(s, "batch", {"id"}, {{"x"}}); });
  REQUIRE(code_of(bad_value) == Errc::invalid_argument);
}

TEST_CASE("db append_rows copies new rows and falls back to the conflict clause for repeated ones") {
  auto pool = open_pool();
  REQUIRE(pool->exec("CREATE TABLE appended (id text PRIMARY KEY, doc json NOT NULL)").ok());
  const std::vector<std::string> columns = {"id", "doc"};
  const std::string conflict = "ON CONFLICT (id) DO NOTHING";
  auto first = dm::db::append_rows(*pool, "appended", columns, {{"a", "{}"}, {"b", "[1]"}}, conflict);
  REQUIRE(first.ok());
  REQUIRE(*first == 2);
  // "b" is there already (a batch redelivered after a crash): the COPY is refused as a
  // whole, the INSERT stores only what is new, twice-listed rows included.
  auto again = dm::db::append_rows(*pool, "appended", columns, {{"b", "[2]"}, {"c", "3"}, {"c", "4"}}, conflict);
  INFO((again.ok() ? "" : again.error().message));
  REQUIRE(again.ok());
  REQUIRE(*again == 1);
  // Without a clause that covers it, the conflict is the caller's.
  auto refused = dm::db::append_rows(*pool, "appended", columns, {{"d", "{}"}, {"a", "{}"}}, "");
  REQUIRE(code_of(refused) == Errc::conflict);
  // Bad data is no conflict: no fallback, nothing stored.
  auto bad = dm::db::append_rows(*pool, "appended", columns, {{"e", "{}"}, {"f", "{nope"}}, conflict);
  REQUIRE(code_of(bad) == Errc::invalid_argument);
  auto rows = pool->exec("SELECT string_agg(id || '=' || doc::text, ' ' ORDER BY id) FROM appended");
  REQUIRE(rows->get(0, 0) == "a={} b=[1] c=3");
  REQUIRE(dm::db::text_array({"x", "q\"uote", "back\\slash"}) == R"({"x","q\"uote","back\\slash"})");
}

TEST_CASE("db write_isolating commits the good rows, isolates the refused ones and stops at an outage") {
  using dm::db::RowFate;
  auto pool = open_pool();
  REQUIRE(pool->exec("CREATE TABLE isolated (id text PRIMARY KEY, n int NOT NULL CHECK (n >= 0), doc json)").ok());
  const std::vector<std::string> columns = {"id", "n", "doc"};
  // Rows 3 (bad JSON), 4 (NUL in a value, refused before sending), 7 (check) and 8
  // (invalid UTF-8) can never be stored; the other six must be, in one pass.
  std::vector<Params> rows;
  for (int i = 0; i < 10; ++i) rows.push_back({"r" + std::to_string(i), std::to_string(i), "{}"});
  rows[3][2] = "{nope";
  rows[4][0] = std::string("r4\0x", 5);
  rows[7][1] = "-7";
  rows[8][2] = "\"\xff\xfe\"";
  int statements = 0;
  auto result = dm::db::write_isolating(rows.size(), [&](std::size_t first, std::size_t last) -> dm::Result<void> {
    ++statements;
    std::vector<Params> part(rows.begin() + static_cast<long>(first), rows.begin() + static_cast<long>(last));
    auto copied = pool->with_session([&](Session& s) { return s.copy_in("isolated", columns, part); });
    if (!copied) return copied.take_error();
    return dm::ok();
  });
  REQUIRE_FALSE(result.outage);
  REQUIRE(result.written == 6);
  for (std::size_t i : {3u, 4u, 7u, 8u}) {
    INFO(i);
    REQUIRE(result.fate[i] == RowFate::refused);
    REQUIRE(result.refused.count(i) == 1);
  }
  REQUIRE(result.refused.at(7).message.find("23514") != std::string::npos);
  REQUIRE(statements < 20);
  auto stored = pool->exec("SELECT string_agg(id, ' ' ORDER BY id) FROM isolated");
  REQUIRE(stored->get(0, 0) == "r0 r1 r2 r5 r6 r9");

  // An outage is no data error: the writing stops, and what was not committed stays pending.
  // Here the whole batch is refused for its data, its first half commits, and then the
  // server goes away while the second half is written.
  int call = 0;
  auto outage = dm::db::write_isolating(4, [&](std::size_t, std::size_t) -> dm::Result<void> {
    ++call;
    if (call == 1) return dm::Error(Errc::invalid_argument, "bad row");
    if (call == 2) return dm::ok();
    return dm::Error(Errc::unavailable, "PostgreSQL connection lost");
  });
  REQUIRE(outage.outage);
  REQUIRE(outage.outage->code == Errc::unavailable);
  REQUIRE(outage.written == 2);
  REQUIRE(outage.fate[1] == RowFate::written);
  REQUIRE(outage.fate[2] == RowFate::pending);
  REQUIRE(outage.fate[3] == RowFate::pending);
  REQUIRE(outage.refused.empty());
  REQUIRE(dm::db::is_data_error(dm::Error(Errc::too_large, "SQLSTATE 54000")));
  REQUIRE_FALSE(dm::db::is_data_error(dm::Error(Errc::timeout, "SQLSTATE 57014")));
  REQUIRE_FALSE(dm::db::is_data_error(dm::Error(Errc::internal, "SQLSTATE 42501: permission denied")));
}

TEST_CASE("db insert_rows keeps every value intact whatever its type and characters") {
  auto pool = open_pool();
  REQUIRE(pool->exec("CREATE TABLE typed (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), t text, j jsonb, js json,"
                     " at timestamptz, n bigint, d double precision, b boolean, \"Odd \"\"Name\" text)")
              .ok());
  // Text that array literals and COPY treat specially: quotes, backslashes, braces, commas,
  // the word NULL, whitespace, newlines and non-ASCII.
  std::vector<std::string> nasty = {"plain", "a \"quoted\" word", "back\\slash\\",    "{braces},{more}",
                                    "NULL",  "  spaced  ",        "line\nbreak\ttab", "\u00e9t\u00e9 \u2603",
                                    ""};
  std::vector<Params> rows;
  for (std::size_t i = 0; i < nasty.size(); ++i) {
    rows.push_back({nasty[i], R"({"k":")" + std::string(i % 2 ? "q\\\"uote" : "v") + R"(","n":[1,2]})", "[1, \"x\"]",
                    "2026-11-27T10:00:00.123456+01:00", std::to_string(-9007199254740993LL + static_cast<long long>(i)),
                    "0.125", i % 2 ? "true" : "false", nasty[nasty.size() - 1 - i]});
  }
  rows.push_back(
      {std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  auto inserted = dm::db::insert_rows(*pool, "typed", {"t", "j", "js", "at", "n", "d", "b", "Odd \"Name"}, rows);
  INFO((inserted.ok() ? "" : inserted.error().message));
  REQUIRE(inserted.ok());
  REQUIRE(*inserted == rows.size());
  auto back = pool->exec(
      "SELECT t, j::text, js::text, to_char(at AT TIME ZONE 'UTC', 'HH24:MI:SS.US'), n, d, b, \"Odd \"\"Name\""
      " FROM typed ORDER BY n NULLS LAST");
  REQUIRE(back.ok());
  REQUIRE(back->size() == rows.size());
  for (std::size_t i = 0; i < nasty.size(); ++i) {
    REQUIRE(back->get(i, 0) == nasty[i]);
    REQUIRE(back->get(i, 1) == (i % 2 ? R"({"k": "q\"uote", "n": [1, 2]})" : R"({"k": "v", "n": [1, 2]})"));
    REQUIRE(back->get(i, 2) == "[1, \"x\"]");  // json keeps the text as given
    REQUIRE(back->get(i, 3) == "09:00:00.123456");
    REQUIRE(back->get_int(i, 4) == -9007199254740993LL + static_cast<std::int64_t>(i));
    REQUIRE(back->get_double(i, 5) == 0.125);
    REQUIRE(back->get_bool(i, 6) == (i % 2 == 1));
    REQUIRE(back->get(i, 7) == nasty[nasty.size() - 1 - i]);
  }
  for (int c = 0; c < 8; ++c) REQUIRE(back->is_null(nasty.size(), c));
  // Invalid JSON fails the whole statement: nothing of the batch is stored.
  auto bad = dm::db::insert_rows(*pool, "typed", {"t", "j"}, {{"ok", "{}"}, {"bad", "{nope"}});
  REQUIRE(code_of(bad) == Errc::invalid_argument);
  REQUIRE(pool->exec("SELECT count(*) FROM typed")->get_int(0, 0) == static_cast<std::int64_t>(rows.size()));
}

TEST_CASE("db migrate applies once, records versions and stops at a failure") {
  psql("CREATE SCHEMA mig");
  auto pool = open_pool({.schema = "mig"});
  std::vector<Migration> ms = {
      {1, "devices", "CREATE TABLE devices (id int PRIMARY KEY);"},
      {2, "names", "ALTER TABLE devices ADD COLUMN name text; INSERT INTO devices VALUES (1, 'first');"},
      {5, "index", "CREATE INDEX devices_name ON devices (name)"},
  };
  auto applied = dm::db::migrate(*pool, "mig", ms);
  INFO((applied.ok() ? "" : applied.error().message));
  REQUIRE(applied.ok());
  REQUIRE(*applied == 3);
  REQUIRE(*dm::db::migrate(*pool, "mig", ms) == 0);

  auto recorded = pool->exec("SELECT version, name, applied_at IS NOT NULL FROM mig.schema_migrations ORDER BY 1");
  REQUIRE(recorded.ok());
  REQUIRE(recorded->size() == 3);
  REQUIRE(recorded->get_int(2, 0) == 5);
  REQUIRE(recorded->get(1, 1) == "names");
  REQUIRE(recorded->get_bool(0, 2));
  // Unqualified names went into the schema (search_path).
  REQUIRE(pool->exec("SELECT name FROM mig.devices")->get(0, 0) == "first");

  ms.push_back({6, "more", "CREATE TABLE more (x int)"});
  ms.push_back({7, "broken", "CREATE TABLE broken (x int); SELEC oops"});
  ms.push_back({8, "after", "CREATE TABLE after_broken (x int)"});
  auto failed = dm::db::migrate(*pool, "mig", ms);
  REQUIRE(code_of(failed) == Errc::internal);
  REQUIRE(contains(failed.error().message, "migration 7 (broken)"));
  REQUIRE(contains(failed.error().message, "42601"));
  auto versions = pool->exec("SELECT max(version), count(*) FROM mig.schema_migrations");
  REQUIRE(versions->get_int(0, 0) == 6);
  REQUIRE(versions->get_int(0, 1) == 4);
  REQUIRE(pool->exec("SELECT to_regclass('mig.broken') IS NULL")->get_bool(0, 0));

  auto dup = dm::db::migrate(*pool, "mig", {{1, "a", "SELECT 1"}, {1, "b", "SELECT 1"}});
  REQUIRE(code_of(dup) == Errc::invalid_argument);
  auto unsorted = dm::db::migrate(*pool, "mig", {{2, "a", "SELECT 1"}, {1, "b", "SELECT 1"}});
  REQUIRE(code_of(unsorted) == Errc::invalid_argument);

  auto missing = dm::db::migrate(*pool, "no_such_schema", ms);
  REQUIRE(code_of(missing) == Errc::unavailable);
  REQUIRE(contains(missing.error().message, "no_such_schema"));
  REQUIRE(contains(missing.error().message, "does not exist"));
  REQUIRE(contains(missing.error().message, "provision"));
}

TEST_CASE("db migrate from concurrent replicas applies each migration once") {
  psql("CREATE SCHEMA race");
  // Not idempotent on purpose: a second application would fail or double the rows.
  std::vector<Migration> ms = {
      {1, "slow", "CREATE TABLE hits (n int); SELECT pg_sleep(0.3); INSERT INTO hits VALUES (1);"},
      {2, "more", "INSERT INTO hits VALUES (2);"},
  };
  auto a = open_pool({.schema = "race"});
  auto b = open_pool({.schema = "race"});
  std::atomic<int> ready{0};
  dm::Result<int> ra = 0, rb = 0;
  auto run = [&](Pool& p, dm::Result<int>& out) {
    ready++;
    while (ready < 2) std::this_thread::yield();
    out = dm::db::migrate(p, "race", ms);
  };
  std::thread ta(run, std::ref(*a), std::ref(ra));
  std::thread tb(run, std::ref(*b), std::ref(rb));
  ta.join();
  tb.join();
  INFO((ra.ok() ? "" : ra.error().message) << (rb.ok() ? "" : rb.error().message));
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  REQUIRE(*ra + *rb == 2);
  auto hits = a->exec("SELECT count(*) FROM race.hits");
  REQUIRE(hits->get_int(0, 0) == 2);
}

TEST_CASE("db role owning only its schema cannot read another one") {
  psql(
      "CREATE ROLE svc_a LOGIN; CREATE ROLE svc_b LOGIN;"
      "CREATE SCHEMA sa AUTHORIZATION svc_a; CREATE SCHEMA sb AUTHORIZATION svc_b;"
      "CREATE TABLE sb.secrets (v text); ALTER TABLE sb.secrets OWNER TO svc_b");
  auto a = open_pool({.url = role_url("svc_a"), .size = 2, .schema = "sa", .application_name = "svc-a"});
  auto applied = dm::db::migrate(*a, "sa", {{1, "t", "CREATE TABLE mine (v text)"}});
  INFO((applied.ok() ? "" : applied.error().message));
  REQUIRE(applied.ok());
  REQUIRE(*applied == 1);
  REQUIRE(a->exec("INSERT INTO mine VALUES ($1)", {"ok"}).ok());  // search_path = sa
  REQUIRE(a->exec("SELECT current_setting('application_name')")->get(0, 0) == "svc-a");

  // A privilege error is a deployment bug, not the API caller's fault: internal (500),
  // not forbidden (403, which the API reserves for its own users).
  auto denied = a->exec("SELECT v FROM sb.secrets");
  REQUIRE(code_of(denied) == Errc::internal);
  REQUIRE(contains(denied.error().message, "42501"));
  REQUIRE(contains(denied.error().message, "permission denied"));

  auto foreign = dm::db::migrate(*a, "sb", {{1, "t", "CREATE TABLE x (v text)"}});
  REQUIRE(code_of(foreign) == Errc::unavailable);
  REQUIRE(contains(foreign.error().message, "svc_a"));
}

TEST_CASE("db statement timeout, pool exhaustion and stats") {
  auto pool = open_pool({.size = 1, .acquire_timeout = 200ms, .statement_timeout = 200ms});
  auto slow = pool->exec("SELECT pg_sleep(5)");
  REQUIRE(code_of(slow) == Errc::timeout);
  REQUIRE(contains(slow.error().message, "57014"));
  REQUIRE(pool->exec("SELECT 1").ok());

  auto held = pool->with_session([&](Session& s) -> dm::Result<void> {
    DM_TRY(s.exec("SELECT 1"));
    auto st = pool->stats();
    REQUIRE(st.in_use == 1);
    REQUIRE(st.idle == 0);
    auto t0 = std::chrono::steady_clock::now();
    auto starved = pool->exec("SELECT 1");
    REQUIRE(code_of(starved) == Errc::unavailable);
    REQUIRE(contains(starved.error().message, "no database connection free"));
    REQUIRE(std::chrono::steady_clock::now() - t0 < 2s);
    return {};
  });
  REQUIRE(held.ok());
  auto st = pool->stats();
  REQUIRE(st.size == 1);
  REQUIRE(st.in_use == 0);
  REQUIRE(st.idle == 1);
  REQUIRE(st.acquired == 3);
  REQUIRE(st.errors == 2);
  REQUIRE(pool->ping().ok());
}

TEST_CASE("db bad urls fail clearly without echoing the password") {
  auto bad = Pool::open({.url = "host=localhost password=s3cretpw = nonsense"});
  REQUIRE(code_of(bad) == Errc::invalid_argument);
  REQUIRE_FALSE(contains(bad.error().message, "s3cretpw"));
  REQUIRE(code_of(Pool::open({.url = ""})) == Errc::invalid_argument);
  REQUIRE(code_of(Pool::open({.url = fx().url, .size = 0})) == Errc::invalid_argument);

  // Nothing listens there: open succeeds (lazy), use fails as unavailable, quickly.
  const std::string url = "postgresql://svc:s3cretpw@127.0.0.1:" + std::to_string(dm::testing::free_port()) + "/dmdb";
  auto pool = open_pool({.url = url, .connect_timeout = 2000ms});
  auto t0 = std::chrono::steady_clock::now();
  auto r = pool->exec("SELECT 1");
  REQUIRE(code_of(r) == Errc::unavailable);
  REQUIRE_FALSE(contains(r.error().message, "s3cretpw"));
  REQUIRE_FALSE(contains(r.error().message, "postgresql://"));
  REQUIRE(code_of(pool->ping()) == Errc::unavailable);
  REQUIRE(std::chrono::steady_clock::now() - t0 < 5s);
  auto st = pool->stats();
  REQUIRE(st.in_use == 0);
  REQUIRE(st.idle == 0);
  REQUIRE(st.errors == 2);
}

TEST_CASE("db survives the database stopping and starting again") {
  auto pool = open_pool({.size = 2, .connect_timeout = 2000ms});
  REQUIRE(pool->ping().ok());
  // Two idle connections that the restart will break.
  REQUIRE(pool->with_session([&](Session&) { return pool->exec("SELECT 1"); }).ok());
  REQUIRE(pool->stats().idle == 2);

  auto mid = pool->with_session([&](Session& s) -> dm::Result<void> {
    DM_TRY(s.exec("SELECT 1"));
    fx().pg.stop();
    auto t0 = std::chrono::steady_clock::now();
    auto broken = s.exec("SELECT 1");
    REQUIRE(code_of(broken) == Errc::unavailable);
    REQUIRE(std::chrono::steady_clock::now() - t0 < 5s);
    return {};
  });
  REQUIRE(mid.ok());

  auto t0 = std::chrono::steady_clock::now();
  auto down = pool->exec("SELECT 1");
  REQUIRE(code_of(down) == Errc::unavailable);
  REQUIRE(code_of(pool->ping()) == Errc::unavailable);
  REQUIRE(code_of(pool->transaction([](Session& s) { return s.exec("SELECT 1"); })) == Errc::unavailable);
  REQUIRE(std::chrono::steady_clock::now() - t0 < 10s);
  auto st = pool->stats();
  REQUIRE(st.in_use == 0);
  REQUIRE(st.idle == 0);

  fx().pg.start();
  auto up = pool->exec("SELECT $1::int + 1", {"41"});
  INFO((up.ok() ? "" : up.error().message));
  REQUIRE(up.ok());
  REQUIRE(up->get_int(0, 0) == 42);
  REQUIRE(pool->ping().ok());

  // A restart while connections sit idle is invisible to the next caller: the dead
  // connections are noticed before use and replaced.
  REQUIRE(pool->with_session([&](Session&) { return pool->exec("SELECT 1"); }).ok());
  REQUIRE(pool->stats().idle == 2);
  fx().pg.stop();
  fx().pg.start();
  auto errors_before = pool->stats().errors;
  REQUIRE(pool->exec("SELECT 1").ok());
  REQUIRE(pool->transaction([](Session& s) { return s.exec("SELECT 1"); }).ok());
  REQUIRE(pool->stats().errors == errors_before);
}
