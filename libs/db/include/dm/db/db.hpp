#pragma once
// PostgreSQL access for every service: a small connection pool over libpq.
//
// libpq stays behind this header (PGconn/PGresult are only forward-declared) so that
// code using the pool does not compile against libpq and cannot bypass its rules:
// SQL text is always parameterised ($1..$n, text format) and failures come back as
// dm::Error values, translated from the server's SQLSTATE:
//   23505, 23503, 23001, 23P01 (unique, foreign key, restrict, exclusion) -> conflict
//   class 22 (bad data), 23502 (not null), 23514 (check)               -> invalid_argument
//   connection lost / cannot connect, class 08, 57P01..57P03, 53300      -> unavailable
//   57014 (statement timeout), 55P03 (lock timeout)                      -> timeout
//   class 54 (program limits: index row too large, ...)                  -> too_large
//   anything else (syntax errors, 42501 permission denied, ...)          -> internal
// Error::message keeps the SQLSTATE and the server's primary message and detail;
// it never contains the connection string or the password.
//
// Thread safety: Pool is safe to share between threads; a Session is one connection
// and belongs to the thread that was handed it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "dm/core/result.hpp"

// libpq's own tags (PGconn and PGresult are typedefs of these).
struct pg_conn;
struct pg_result;

namespace dm::db {

using Param = std::optional<std::string>;  // std::nullopt = SQL NULL
using Params = std::vector<Param>;

namespace detail {
struct PgConnDeleter {
  void operator()(pg_conn* conn) const noexcept;
};
struct PgResultDeleter {
  void operator()(pg_result* result) const noexcept;
};
using ConnPtr = std::unique_ptr<pg_conn, PgConnDeleter>;
using ResultPtr = std::unique_ptr<pg_result, PgResultDeleter>;

template <typename R>
struct IsResult : std::false_type {};
template <typename T>
struct IsResult<Result<T>> : std::true_type {};
}  // namespace detail

// The rows (or the command status) of one statement. Values are in PostgreSQL's text
// format. Out-of-range rows or columns read as NULL rather than crashing, so a typo in
// a column name (column() == -1) shows up as empty data, not as undefined behaviour.
class Rows {
 public:
  Rows() = default;  // no result: zero rows, zero columns

  std::size_t size() const;
  int columns() const;
  bool empty() const { return size() == 0; }
  // Exact (case-sensitive) match on the result column name; -1 if absent.
  int column(std::string_view name) const;

  bool is_null(std::size_t row, int col) const;
  std::string_view get(std::size_t row, int col) const;  // "" for NULL
  std::optional<std::string> opt(std::size_t row, int col) const;
  // 0 / false / 0.0 for NULL or text that does not parse.
  std::int64_t get_int(std::size_t row, int col) const;
  bool get_bool(std::size_t row, int col) const;  // PostgreSQL's "t"
  double get_double(std::size_t row, int col) const;
  // Rows affected by INSERT/UPDATE/DELETE/COPY (or returned by SELECT); PQcmdTuples.
  std::size_t affected() const;

 private:
  friend class Session;
  explicit Rows(detail::ResultPtr result);
  bool in_range(std::size_t row, int col) const;

  detail::ResultPtr result_;
};

// "[v,v,...]" from one column of JSON that PostgreSQL rendered (json_build_object ...).
std::string json_array(const Rows& rows, int column = 0);

class Pool;

// One checked-out connection. Handed out by Pool::transaction/with_session as Session&;
// it goes back to the pool when that call returns.
class Session {
 public:
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // One statement; params bind to $1..$n as text (std::nullopt binds NULL).
  Result<Rows> exec(std::string_view sql, const Params& params = {});
  // Multi-statement text without parameters (migrations). Outside a transaction the
  // whole text runs as one implicit transaction.
  Result<void> exec_script(std::string_view sql);
  // COPY table (columns) FROM STDIN in text format; escapes \t \n \r \\ and writes NULL
  // as \N. `table` may be schema-qualified ("schema.table"); each part is quoted.
  // Returns the number of rows copied.
  Result<std::size_t> copy_in(std::string_view table, const std::vector<std::string>& columns,
                              const std::vector<Params>& rows);

 private:
  friend class Pool;
  friend Result<Rows> insert_rows_returning(Session& s, std::string_view table, const std::vector<std::string>& columns,
                                            const std::vector<Params>& rows, std::string_view suffix);
  // The array type names of `columns` of `table` (for insert_rows), cached per pool.
  Result<std::vector<std::string>> array_types(std::string_view table, const std::vector<std::string>& columns);
  Session(Pool* pool, detail::ConnPtr conn);

  Result<void> begin();
  Result<void> commit();
  void rollback() noexcept;
  Result<Rows> exec_until(std::string_view sql, const Params& params,
                          std::optional<std::chrono::steady_clock::time_point> deadline);
  Error fail(Error error);  // counts the error in the pool's stats

  Pool* pool_;
  detail::ConnPtr conn_;
};

struct PoolOptions {
  std::string url;  // libpq URI or key=value string; never echoed in errors or logs
  int size = 4;     // maximum number of connections
  // If set: SET search_path TO <schema> (identifier-quoted) on every new connection.
  std::string schema;
  std::string application_name;
  // Rounded up to whole seconds, at least 2 (libpq's resolution); 0 = wait forever.
  std::chrono::milliseconds connect_timeout{5000};
  // How long a caller waits for a free connection when all `size` are in use.
  std::chrono::milliseconds acquire_timeout{5000};
  // Server-side statement_timeout for every statement; 0 = none.
  std::chrono::milliseconds statement_timeout{0};
};

class Pool {
 public:
  // Does not fail if the database is down at start: connections are made lazily and
  // re-made when broken. An idle connection is checked (without a round trip) before
  // it is handed out, and a connection that broke during use is dropped when it comes
  // back, so a database restart costs at most the statements in flight.
  // Fails only for bad options (invalid_argument).
  static Result<std::unique_ptr<Pool>> open(const PoolOptions& options);
  ~Pool();  // all sessions must have been returned
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  Result<Rows> exec(std::string_view sql, const Params& params = {});

  // Runs f(Session&) inside BEGIN/COMMIT; rolls back if f returns an error, and returns
  // an error if the commit fails (also when f swallowed a failed statement: PostgreSQL
  // would silently turn that COMMIT into a ROLLBACK). f must return a dm::Result<T>;
  // T may be void. Do not start another pool call inside f that needs a second
  // connection from a pool of size 1: it would wait for acquire_timeout.
  template <typename F>
  auto transaction(F&& f) -> decltype(f(std::declval<Session&>()));

  // Runs f(Session&) on one connection without a transaction. A transaction f leaves
  // open is rolled back when the connection is returned.
  template <typename F>
  auto with_session(F&& f) -> decltype(f(std::declval<Session&>()));

  // SELECT 1 for /readyz: waits at most 2 s for a free connection and 2 s overall for
  // the answer (client-side, so a hung server cannot hang the probe). Making a new
  // connection for it is bounded by connect_timeout instead.
  Result<void> ping();

  struct Stats {
    int size;                // configured maximum
    int idle;                // connected and free
    int in_use;              // checked out
    std::uint64_t acquired;  // successful checkouts since open
    std::uint64_t errors;    // failed checkouts and failed statements since open
  };
  Stats stats() const;

 private:
  friend class Session;
  struct State;

  explicit Pool(std::unique_ptr<State> state);
  Result<std::unique_ptr<Session>> acquire();
  Result<std::unique_ptr<Session>> acquire(std::chrono::milliseconds timeout);
  void release(detail::ConnPtr conn) noexcept;
  void count_error() noexcept;

  std::unique_ptr<State> state_;
};

template <typename F>
auto Pool::transaction(F&& f) -> decltype(f(std::declval<Session&>())) {
  using R = decltype(f(std::declval<Session&>()));
  static_assert(detail::IsResult<R>::value, "transaction(f): f must return dm::Result<T>");
  auto session = acquire();
  if (!session.ok()) return session.take_error();
  Session& s = **session;
  if (auto begun = s.begin(); !begun.ok()) return begun.take_error();
  R result = f(s);
  if (!result.ok()) {
    s.rollback();
    return result;
  }
  if (auto committed = s.commit(); !committed.ok()) return committed.take_error();
  return result;
}

template <typename F>
auto Pool::with_session(F&& f) -> decltype(f(std::declval<Session&>())) {
  using R = decltype(f(std::declval<Session&>()));
  static_assert(detail::IsResult<R>::value, "with_session(f): f must return dm::Result<T>");
  auto session = acquire();
  if (!session.ok()) return session.take_error();
  return f(**session);
}

// Batch insert in one statement, so all or nothing:
//   INSERT INTO table (columns) SELECT * FROM unnest($1::type1[], $2::type2[], ...) suffix
// with one array parameter per column (types read from the catalog once), followed by
// `suffix` (trusted SQL from code, e.g. "ON CONFLICT DO NOTHING"). Any number of rows.
// `table` may be schema-qualified. Returns the number of affected rows.
Result<std::size_t> insert_rows(Session& s, std::string_view table, const std::vector<std::string>& columns,
                                const std::vector<Params>& rows, std::string_view suffix = {});

// insert_rows with a RETURNING clause in `suffix`: the rows PostgreSQL returns (none when
// `rows` is empty).
Result<Rows> insert_rows_returning(Session& s, std::string_view table, const std::vector<std::string>& columns,
                                   const std::vector<Params>& rows, std::string_view suffix);

// The same on a connection of the pool (one statement: no BEGIN/COMMIT round trips).
Result<std::size_t> insert_rows(Pool& pool, std::string_view table, const std::vector<std::string>& columns,
                                const std::vector<Params>& rows, std::string_view suffix = {});

// Rows that are new in the common case, as history writers produce them: COPY, the
// cheapest way into a table (about 40 % less server CPU per history row than the INSERT
// above, measured with indexes and json columns), and only when a unique constraint
// refuses the batch (rows redelivered after a crash) the same rows again as
// INSERT ... `on_conflict` (e.g. "ON CONFLICT (id) DO NOTHING"). All or nothing; returns
// the rows stored. A refused COPY counts in the pool's error statistics.
Result<std::size_t> append_rows(Pool& pool, std::string_view table, const std::vector<std::string>& columns,
                                const std::vector<Params>& rows, std::string_view on_conflict);

// The rows of one table for append_all.
struct Append {
  std::string_view table;
  const std::vector<std::string>& columns;
  const std::vector<Params>& rows;
  std::string_view on_conflict;  // e.g. "ON CONFLICT (id) DO NOTHING"
};
// COPY into several tables in one transaction (`on_conflict` unused): all of them or none.
// Errc::conflict when a unique constraint refuses a row (nothing is stored then).
Result<std::size_t> copy_all(Pool& pool, const std::vector<Append>& tables);
// append_rows for several tables in one transaction: all of them or none. Returns the rows
// stored in all.
Result<std::size_t> append_all(Pool& pool, const std::vector<Append>& tables);

// A text[] literal ({"a","b"}) for one array parameter: `= ANY($1::text[])`.
std::string text_array(const std::vector<std::string>& values);

// "name" with embedded quotes doubled: safe to splice into SQL as one identifier.
std::string quote_identifier(std::string_view name);

}  // namespace dm::db
