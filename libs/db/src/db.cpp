#include "dm/db/db.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "dm/core/log.hpp"
#include "sql_util.hpp"

namespace dm::db {

namespace detail {
void PgConnDeleter::operator()(pg_conn* conn) const noexcept { PQfinish(conn); }
void PgResultDeleter::operator()(pg_result* result) const noexcept { PQclear(result); }
}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;

// The wire protocol counts parameters in 16 bits.
constexpr std::size_t kMaxParams = 65535;
// ping() must answer /readyz quickly even when the database hangs.
constexpr std::chrono::milliseconds kPingTimeout{2000};

// libpq messages end in newlines and may span lines; Error::message is one line.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

Errc errc_for_sqlstate(std::string_view state) {
  if (state == "23505" || state == "23503" || state == "23001" || state == "23P01") return Errc::conflict;
  if (state.substr(0, 2) == "22" || state == "23502" || state == "23514") return Errc::invalid_argument;
  if (state.substr(0, 2) == "08" || state == "57P01" || state == "57P02" || state == "57P03" || state == "53300")
    return Errc::unavailable;
  if (state == "57014" || state == "55P03") return Errc::timeout;
  // Program limits (54000 statement too complex, 54001 index row too large, ...): the values
  // are too big for the server, so the same statement can never succeed.
  if (state.substr(0, 2) == "54") return Errc::too_large;
  return Errc::internal;
}

// Builds the Error for a failed statement. A connection that went bad is reported as
// unavailable whatever the server said last (e.g. 57P01 or no SQLSTATE at all).
Error error_from(PGconn* conn, const PGresult* res) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : nullptr;
  std::string msg;
  if (state && *state) msg = std::string("SQLSTATE ") + state + ": ";
  if (primary && *primary) {
    msg += one_line(primary);
  } else {
    const char* text = res ? PQresultErrorMessage(res) : "";
    if (!text || !*text) text = PQerrorMessage(conn);
    msg += one_line(text && *text ? text : "unknown PostgreSQL error");
  }
  if (detail && *detail) msg += " (" + one_line(detail) + ")";
  if (PQstatus(conn) != CONNECTION_OK) return Error(Errc::unavailable, "PostgreSQL connection lost: " + msg);
  return Error(state ? errc_for_sqlstate(state) : Errc::internal, std::move(msg));
}

Error connection_error(PGconn* conn, std::string_view what) {
  return Error(Errc::unavailable, std::string(what) + ": " + one_line(PQerrorMessage(conn)));
}

// SQL text and parameter values travel as C strings: an embedded NUL would silently cut
// them short (and PostgreSQL text cannot hold NUL anyway), so refuse them up front.
bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Server notices (e.g. "relation already exists, skipping") would otherwise go straight
// to stderr, outside the structured log.
void log_notice(void*, const char* message) {
  dm::log::debug("postgres notice", {{"msg", std::string_view(one_line(message ? message : ""))}});
}

// Waits until libpq can hand out the next result without blocking, or until the deadline.
Result<void> wait_ready(PGconn* conn, const Deadline& deadline) {
  while (PQisBusy(conn)) {
    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) return Error(Errc::timeout, "PostgreSQL did not answer in time");
      wait_ms = static_cast<int>(std::min<long long>(left, 60000));
    }
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    int n = ::poll(&pfd, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Error(Errc::unavailable, std::string("poll on PostgreSQL socket failed: ") + std::strerror(errno));
    // A failed read marks the connection bad; PQgetResult then reports why.
    if (n > 0 && !PQconsumeInput(conn)) break;
  }
  return {};
}

// Collects every result of the command just sent. Returns the first error, else the last
// result. COPY started through plain exec is refused rather than left hanging.
Result<detail::ResultPtr> collect(PGconn* conn, const Deadline& deadline) {
  detail::ResultPtr last;
  detail::ResultPtr first_error;
  bool copy_refused = false;
  for (;;) {
    DM_TRY(wait_ready(conn, deadline));
    detail::ResultPtr res(PQgetResult(conn));
    if (!res) break;
    switch (PQresultStatus(res.get())) {
      case PGRES_COPY_IN:
        PQputCopyEnd(conn, "COPY FROM STDIN is not supported through exec; use copy_in");
        copy_refused = true;
        break;
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH: {
        char* buf = nullptr;
        while (PQgetCopyData(conn, &buf, 0) > 0) PQfreemem(buf);
        copy_refused = true;
        break;
      }
      case PGRES_BAD_RESPONSE:
      case PGRES_NONFATAL_ERROR:
      case PGRES_FATAL_ERROR:
        if (!first_error) first_error = std::move(res);
        break;
      default:
        last = std::move(res);
        break;
    }
    // A broken connection yields no further results worth waiting for.
    if (PQstatus(conn) != CONNECTION_OK) break;
  }
  // Our refusal first: ending the COPY makes the server report its own 57014 error.
  if (copy_refused && PQstatus(conn) == CONNECTION_OK)
    return Error(Errc::invalid_argument, "COPY is not supported through exec; use copy_in");
  if (first_error) return error_from(conn, first_error.get());
  if (PQstatus(conn) != CONNECTION_OK) return error_from(conn, nullptr);
  return last;
}

// Cheap liveness check of an idle connection (no round trip): if the server closed it
// (restart, idle timeout, admin kill), the socket is readable and reading says so.
bool still_alive(PGconn* conn) {
  if (PQstatus(conn) != CONNECTION_OK) return false;
  if (PQtransactionStatus(conn) != PQTRANS_IDLE) return false;
  // A closing server sends FATAL 57P01 and then EOF; one read may return just the
  // message, so keep reading while the socket stays readable (bounded: a busy stream
  // of notices must not keep us here).
  for (int i = 0; i < 8; ++i) {
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    if (::poll(&pfd, 1, 0) <= 0) break;
    if (!PQconsumeInput(conn)) return false;
    while (PGnotify* n = PQnotifies(conn)) PQfreemem(n);
    if (PQstatus(conn) != CONNECTION_OK) return false;
  }
  return PQstatus(conn) == CONNECTION_OK;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Rows

Rows::Rows(detail::ResultPtr result) : result_(std::move(result)) {}

std::size_t Rows::size() const { return result_ ? static_cast<std::size_t>(PQntuples(result_.get())) : 0; }

int Rows::columns() const { return result_ ? PQnfields(result_.get()) : 0; }

int Rows::column(std::string_view name) const {
  // Not PQfnumber: it case-folds unquoted names, which surprises more than it helps.
  for (int i = 0; i < columns(); ++i) {
    if (name == PQfname(result_.get(), i)) return i;
  }
  return -1;
}

bool Rows::in_range(std::size_t row, int col) const { return row < size() && col >= 0 && col < columns(); }

bool Rows::is_null(std::size_t row, int col) const {
  return !in_range(row, col) || PQgetisnull(result_.get(), static_cast<int>(row), col) != 0;
}

std::string_view Rows::get(std::size_t row, int col) const {
  if (is_null(row, col)) return {};
  int r = static_cast<int>(row);
  return {PQgetvalue(result_.get(), r, col), static_cast<std::size_t>(PQgetlength(result_.get(), r, col))};
}

std::string json_array(const Rows& rows, int column) {
  std::string out = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i) out += ',';
    out += rows.get(i, column);
  }
  out += ']';
  return out;
}

std::optional<std::string> Rows::opt(std::size_t row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return std::string(get(row, col));
}

std::int64_t Rows::get_int(std::size_t row, int col) const {
  auto v = get(row, col);
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && end == v.data() + v.size() ? out : 0;
}

bool Rows::get_bool(std::size_t row, int col) const {
  auto v = get(row, col);
  return v == "t" || v == "true";
}

double Rows::get_double(std::size_t row, int col) const {
  auto v = get(row, col);
  double out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && end == v.data() + v.size() ? out : 0.0;
}

std::size_t Rows::affected() const {
  if (!result_) return 0;
  std::string_view v = PQcmdTuples(result_.get());
  std::size_t out = 0;
  std::from_chars(v.data(), v.data() + v.size(), out);
  return out;
}

// ---------------------------------------------------------------------------------------
// Pool state

struct Pool::State {
  PoolOptions options;
  std::string password;  // only to scrub it from libpq messages, never shown

  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<detail::ConnPtr> idle;  // most recently used last: reuse the warm one
  int open = 0;                       // idle + in use + being connected; at most size
  int in_use = 0;
  std::uint64_t acquired = 0;
  std::atomic<std::uint64_t> errors{0};
  std::unordered_map<std::string, std::vector<std::string>> array_types;  // Session::array_types

  std::string redact(std::string text) const {
    if (password.empty()) return text;
    for (auto pos = text.find(password); pos != std::string::npos; pos = text.find(password, pos + 3))
      text.replace(pos, password.size(), "***");
    return text;
  }

  Result<detail::ConnPtr> connect() const;
};

Result<detail::ConnPtr> Pool::State::connect() const {
  auto secs = (options.connect_timeout.count() + 999) / 1000;
  std::string timeout = std::to_string(secs <= 0 ? 0 : std::max<long long>(secs, 2));
  // dbname with expand_dbname=1 takes the whole URL; keywords after it override the
  // URL's own, so our connect_timeout and client_encoding always apply.
  std::vector<const char*> keys{"dbname", "connect_timeout", "client_encoding"};
  std::vector<const char*> values{options.url.c_str(), timeout.c_str(), "UTF8"};
  if (!options.application_name.empty()) {
    keys.push_back("application_name");
    values.push_back(options.application_name.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  detail::ConnPtr conn(PQconnectdbParams(keys.data(), values.data(), 1));
  if (!conn) return Error(Errc::unavailable, "cannot connect to PostgreSQL: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Error(Errc::unavailable, redact("cannot connect to PostgreSQL: " + one_line(PQerrorMessage(conn.get()))));
  }
  PQsetNoticeProcessor(conn.get(), log_notice, nullptr);

  // UTC sessions: timestamps rendered by PostgreSQL (JSON answers) read the same everywhere.
  std::string setup = "SET TIME ZONE 'UTC';";
  if (!options.schema.empty()) setup += "SET search_path TO " + quote_identifier(options.schema) + ";";
  if (options.statement_timeout.count() > 0)
    setup += "SET statement_timeout = " + std::to_string(options.statement_timeout.count()) + ";";
  if (!setup.empty()) {
    if (!PQsendQuery(conn.get(), setup.c_str()))
      return connection_error(conn.get(), "cannot set up PostgreSQL session");
    auto done = collect(conn.get(), std::nullopt);
    if (!done.ok()) {
      Error e = done.take_error();
      return Error(e.code, "cannot set up PostgreSQL session: " + e.message);
    }
  }
  return conn;
}

// ---------------------------------------------------------------------------------------
// Session

Session::Session(Pool* pool, detail::ConnPtr conn) : pool_(pool), conn_(std::move(conn)) {}

Session::~Session() {
  if (pool_ && conn_) pool_->release(std::move(conn_));
}

Error Session::fail(Error error) {
  pool_->count_error();
  return error;
}

Result<Rows> Session::exec(std::string_view sql, const Params& params) { return exec_until(sql, params, std::nullopt); }

Result<Rows> Session::exec_until(std::string_view sql, const Params& params,
                                 std::optional<Clock::time_point> deadline) {
  if (has_nul(sql)) return fail(Error(Errc::invalid_argument, "SQL text contains a NUL byte"));
  if (params.size() > kMaxParams)
    return fail(Error(Errc::invalid_argument, "too many parameters: " + std::to_string(params.size())));
  std::vector<const char*> values;
  values.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i] && has_nul(*params[i]))
      return fail(Error(Errc::invalid_argument, "parameter $" + std::to_string(i + 1) + " contains a NUL byte"));
    values.push_back(params[i] ? params[i]->c_str() : nullptr);
  }
  std::string text(sql);
  PGconn* conn = conn_.get();
  if (!PQsendQueryParams(conn, text.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr, nullptr,
                         0)) {
    if (PQstatus(conn) != CONNECTION_OK) return fail(connection_error(conn, "PostgreSQL connection lost"));
    return fail(Error(Errc::internal, "cannot send statement: " + one_line(PQerrorMessage(conn))));
  }
  auto res = collect(conn, deadline);
  if (!res.ok()) return fail(res.take_error());
  return Rows(std::move(res).value());
}

Result<void> Session::exec_script(std::string_view sql) {
  if (has_nul(sql)) return fail(Error(Errc::invalid_argument, "SQL text contains a NUL byte"));
  std::string text(sql);
  PGconn* conn = conn_.get();
  if (!PQsendQuery(conn, text.c_str())) {
    if (PQstatus(conn) != CONNECTION_OK) return fail(connection_error(conn, "PostgreSQL connection lost"));
    return fail(Error(Errc::internal, "cannot send script: " + one_line(PQerrorMessage(conn))));
  }
  auto res = collect(conn, std::nullopt);
  if (!res.ok()) return fail(res.take_error());
  return {};
}

namespace {

// COPY text format: backslash escapes for the delimiter, line ends and backslash itself.
void append_copy_value(std::string& out, const Param& value) {
  if (!value) {
    out += "\\N";
    return;
  }
  // Plain runs are appended whole; only \ and the row/column separators are escaped.
  const char* run = value->data();
  const char* end = run + value->size();
  for (const char* p = run; p != end; ++p) {
    const char* escaped = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : nullptr;
    if (escaped == nullptr) continue;
    out.append(run, p);
    out += escaped;
    run = p + 1;
  }
  out.append(run, end);
}

// Everything is checked before COPY starts: aborting a COPY half-way costs a round trip
// and leaves a confusing server error.
Result<void> check_copy_rows(const std::vector<std::string>& columns, const std::vector<Params>& rows) {
  if (columns.empty()) return Error(Errc::invalid_argument, "copy_in: no columns");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != columns.size())
      return Error(Errc::invalid_argument, "copy_in: row " + std::to_string(r) + " has " +
                                               std::to_string(rows[r].size()) + " values for " +
                                               std::to_string(columns.size()) + " columns");
    for (const auto& v : rows[r]) {
      if (v && has_nul(*v))
        return Error(Errc::invalid_argument, "copy_in: row " + std::to_string(r) + " contains a NUL byte");
    }
  }
  return {};
}

// Sends COPY ... FROM STDIN and waits until the server takes data.
Result<void> start_copy(PGconn* conn, std::string_view table, const std::vector<std::string>& columns) {
  std::string sql = "COPY " + quote_qualified(table) + " (";
  for (std::size_t i = 0; i < columns.size(); ++i) sql += (i ? ", " : "") + quote_identifier(columns[i]);
  sql += ") FROM STDIN";
  if (has_nul(sql)) return Error(Errc::invalid_argument, "copy_in: NUL byte in a table or column name");

  if (!PQsendQuery(conn, sql.c_str())) {
    if (PQstatus(conn) != CONNECTION_OK) return connection_error(conn, "PostgreSQL connection lost");
    return Error(Errc::internal, "cannot send COPY: " + one_line(PQerrorMessage(conn)));
  }
  DM_TRY(wait_ready(conn, std::nullopt));
  detail::ResultPtr start(PQgetResult(conn));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) {
    Error e = error_from(conn, start.get());
    // Drain what follows the failed COPY so the connection is reusable.
    while (detail::ResultPtr rest{PQgetResult(conn)}) {
    }
    return e;
  }
  return {};
}

// The rows in COPY's text format, sent in chunks of about 64 KiB (bounded memory, few
// calls), then the end of the data. False when the connection failed.
bool send_copy_rows(PGconn* conn, const std::vector<Params>& rows) {
  std::string buf;
  buf.reserve(1 << 16);
  auto flush = [&]() -> bool {
    if (buf.empty()) return true;
    bool sent = PQputCopyData(conn, buf.data(), static_cast<int>(buf.size())) == 1;
    buf.clear();
    return sent;
  };
  bool sent = true;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) buf += '\t';
      append_copy_value(buf, row[i]);
    }
    buf += '\n';
    if (buf.size() >= (1 << 16) && !(sent = flush())) break;
  }
  if (sent) sent = flush();
  return sent && PQputCopyEnd(conn, nullptr) == 1;
}

}  // namespace

Result<std::size_t> Session::copy_in(std::string_view table, const std::vector<std::string>& columns,
                                     const std::vector<Params>& rows) {
  if (auto checked = check_copy_rows(columns, rows); !checked.ok()) return fail(checked.take_error());
  if (rows.empty()) return std::size_t{0};
  PGconn* conn = conn_.get();
  if (auto started = start_copy(conn, table, columns); !started.ok()) return fail(started.take_error());
  if (!send_copy_rows(conn, rows)) return fail(connection_error(conn, "COPY failed"));
  auto res = collect(conn, std::nullopt);
  if (!res.ok()) return fail(res.take_error());
  return Rows(std::move(res).value()).affected();
}

Result<void> Session::begin() {
  auto r = exec("BEGIN");
  if (!r.ok()) return r.take_error();
  return {};
}

Result<void> Session::commit() {
  // COMMIT of a transaction in which a statement failed "succeeds" as ROLLBACK; the
  // caller must hear that nothing was written.
  if (PQtransactionStatus(conn_.get()) == PQTRANS_INERROR) {
    rollback();
    return fail(Error(Errc::internal, "transaction rolled back: a statement in it failed earlier"));
  }
  auto r = exec("COMMIT");
  if (!r.ok()) return r.take_error();
  return {};
}

void Session::rollback() noexcept {
  // Best effort: if this fails the connection is broken and release() drops it.
  detail::ResultPtr res(PQexec(conn_.get(), "ROLLBACK"));
}

// ---------------------------------------------------------------------------------------
// Pool

Pool::Pool(std::unique_ptr<State> state) : state_(std::move(state)) {}

Pool::~Pool() = default;

Result<std::unique_ptr<Pool>> Pool::open(const PoolOptions& options) {
  if (options.url.empty()) return Error(Errc::invalid_argument, "database url is empty");
  if (options.size < 1) return Error(Errc::invalid_argument, "pool size must be at least 1");
  if (options.connect_timeout.count() < 0 || options.acquire_timeout.count() < 0 ||
      options.statement_timeout.count() < 0)
    return Error(Errc::invalid_argument, "pool timeouts must not be negative");
  if (has_nul(options.schema) || has_nul(options.application_name))
    return Error(Errc::invalid_argument, "schema or application name contains a NUL byte");

  // Parse now so a typo fails at startup, not on first use. libpq's parse errors quote
  // parts of the string (which may hold the password), so they are not passed on.
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.url.c_str(), &err);
  if (!parsed) {
    if (err) PQfreemem(err);
    return Error(Errc::invalid_argument,
                 "database url is not a valid PostgreSQL connection string (not shown: it may contain a password)");
  }
  auto state = std::make_unique<State>();
  for (PQconninfoOption* o = parsed; o->keyword; ++o) {
    if (std::strcmp(o->keyword, "password") == 0 && o->val) state->password = o->val;
  }
  PQconninfoFree(parsed);
  state->options = options;
  state->idle.reserve(static_cast<std::size_t>(options.size));  // release() must not allocate
  return std::unique_ptr<Pool>(new Pool(std::move(state)));
}

Result<std::unique_ptr<Session>> Pool::acquire() { return acquire(state_->options.acquire_timeout); }

Result<std::unique_ptr<Session>> Pool::acquire(std::chrono::milliseconds timeout) {
  State& st = *state_;
  detail::ConnPtr conn;
  {
    std::unique_lock lock(st.mu);
    bool free = st.cv.wait_for(lock, timeout, [&] { return !st.idle.empty() || st.open < st.options.size; });
    if (!free) {
      st.errors++;
      return Error(Errc::unavailable, "no database connection free after " + std::to_string(timeout.count()) +
                                          " ms (pool size " + std::to_string(st.options.size) + ", all in use)");
    }
    if (!st.idle.empty()) {
      conn = std::move(st.idle.back());
      st.idle.pop_back();
    } else {
      st.open++;  // reserve the slot; the connection is made outside the lock
    }
    st.in_use++;
  }
  if (conn && !still_alive(conn.get())) conn.reset();  // keeps the slot, reconnects below
  if (!conn) {
    auto made = st.connect();
    if (!made.ok()) {
      {
        std::lock_guard lock(st.mu);
        st.open--;
        st.in_use--;
        st.errors++;
      }
      st.cv.notify_one();
      return made.take_error();
    }
    conn = std::move(made).value();
  }
  {
    std::lock_guard lock(st.mu);
    st.acquired++;
  }
  return std::unique_ptr<Session>(new Session(this, std::move(conn)));
}

void Pool::release(detail::ConnPtr conn) noexcept {
  State& st = *state_;
  bool keep = conn && PQstatus(conn.get()) == CONNECTION_OK;
  if (keep) {
    switch (PQtransactionStatus(conn.get())) {
      case PQTRANS_IDLE:
        break;
      case PQTRANS_INTRANS:
      case PQTRANS_INERROR: {
        // A transaction left open (with_session, or f threw) must not leak into the
        // next user of this connection.
        detail::ResultPtr res(PQexec(conn.get(), "ROLLBACK"));
        keep = res && PQresultStatus(res.get()) == PGRES_COMMAND_OK && PQtransactionStatus(conn.get()) == PQTRANS_IDLE;
        break;
      }
      default:  // a statement still in flight (deadline passed) or unknown state
        keep = false;
        break;
    }
  }
  if (!keep) conn.reset();  // PQfinish outside the lock
  {
    std::lock_guard lock(st.mu);
    st.in_use--;
    if (keep) {
      st.idle.push_back(std::move(conn));
    } else {
      st.open--;
    }
  }
  st.cv.notify_one();
}

void Pool::count_error() noexcept { state_->errors++; }

Result<Rows> Pool::exec(std::string_view sql, const Params& params) {
  DM_ASSIGN_OR_RETURN(auto session, acquire());
  return session->exec(sql, params);
}

Result<void> Pool::ping() {
  auto deadline = Clock::now() + kPingTimeout;
  DM_ASSIGN_OR_RETURN(auto session, acquire(std::min(state_->options.acquire_timeout, kPingTimeout)));
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  DM_ASSIGN_OR_RETURN(auto rows,
                      session->exec_until("SELECT 1", {}, Clock::now() + std::max(left, std::chrono::milliseconds(1))));
  if (rows.size() != 1 || rows.get(0, 0) != "1") return Error(Errc::internal, "SELECT 1 returned an unexpected result");
  return {};
}

Pool::Stats Pool::stats() const {
  const State& st = *state_;
  std::lock_guard lock(st.mu);
  return Stats{st.options.size, static_cast<int>(st.idle.size()), st.in_use, st.acquired, st.errors.load()};
}

// ---------------------------------------------------------------------------------------
// SQL building

std::string quote_identifier(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out += '"';
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string quote_qualified(std::string_view name) {
  std::string out;
  for (;;) {
    auto dot = name.find('.');
    out += quote_identifier(name.substr(0, dot));
    if (dot == std::string_view::npos) break;
    out += '.';
    name.remove_prefix(dot + 1);
  }
  return out;
}

namespace {

// Appends one element of an array literal: quoted, with " and \ backslash-escaped, so any
// text survives as one element; NULL unquoted.
void append_array_element(std::string& out, const Param& v) {
  if (!v) {
    out += "NULL";
    return;
  }
  out += '"';
  // Plain runs are appended whole (string::find_first_of would call memchr per byte).
  const char* run = v->data();
  const char* end = run + v->size();
  for (const char* p = run; p != end; ++p) {
    if (*p != '"' && *p != '\\') continue;
    out.append(run, p);
    out += '\\';
    run = p;
  }
  out.append(run, end);
  out += '"';
}

// The array literal ({"a","b",NULL}) of column `col` of every row.
std::string array_literal(const std::vector<Params>& rows, std::size_t col) {
  std::size_t size = 2;
  for (const auto& row : rows) size += row[col] ? row[col]->size() + 3 : 5;
  std::string out;
  out.reserve(size + size / 8);
  out += '{';
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (r) out += ',';
    append_array_element(out, rows[r][col]);
  }
  out += '}';
  return out;
}

}  // namespace

// The array type of each column ("uuid[]", "timestamp with time zone[]", ...), asked of
// the catalog once per pool and table: tables do not change shape while a service runs
// (migrations run before it serves).
Result<std::vector<std::string>> Session::array_types(std::string_view table, const std::vector<std::string>& columns) {
  std::string key(table);
  for (const auto& c : columns) key += '\0' + c;
  {
    std::lock_guard lock(pool_->state_->mu);
    auto& cache = pool_->state_->array_types;
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  DM_ASSIGN_OR_RETURN(auto found, exec("SELECT a.attname, format_type(NULLIF(t.typarray, 0), NULL) FROM pg_attribute a"
                                       " JOIN pg_type t ON t.oid = a.atttypid"
                                       " WHERE a.attrelid = $1::regclass AND a.attname = ANY($2::text[])"
                                       " AND a.attnum > 0 AND NOT a.attisdropped",
                                       {quote_qualified(table), text_array(columns)}));
  std::vector<std::string> types;
  for (const auto& column : columns) {
    std::size_t r = 0;
    while (r < found.size() && found.get(r, 0) != column) ++r;
    if (r == found.size() || found.is_null(r, 1))
      return fail(Error(Errc::invalid_argument, "insert_rows: " + std::string(table) + " has no column " + column +
                                                    " of a type that has an array type"));
    types.emplace_back(found.get(r, 1));
  }
  std::lock_guard lock(pool_->state_->mu);
  pool_->state_->array_types.emplace(std::move(key), types);
  return types;
}

Result<std::size_t> insert_rows(Session& s, std::string_view table, const std::vector<std::string>& columns,
                                const std::vector<Params>& rows, std::string_view suffix) {
  DM_ASSIGN_OR_RETURN(auto done, insert_rows_returning(s, table, columns, rows, suffix));
  return done.affected();
}

Result<Rows> insert_rows_returning(Session& s, std::string_view table, const std::vector<std::string>& columns,
                                   const std::vector<Params>& rows, std::string_view suffix) {
  if (columns.empty()) return Error(Errc::invalid_argument, "insert_rows: no columns");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != columns.size())
      return Error(Errc::invalid_argument, "insert_rows: row " + std::to_string(r) + " has " +
                                               std::to_string(rows[r].size()) + " values for " +
                                               std::to_string(columns.size()) + " columns");
  }
  if (rows.empty()) return Rows();
  DM_ASSIGN_OR_RETURN(auto types, s.array_types(table, columns));
  // One array per column, zipped back into rows by unnest: the statement has one
  // parameter per column however many rows there are, so PostgreSQL parses and plans a
  // few lines instead of a VALUES list of thousands of parameters (25-35 % less server CPU
  // per row, measured with history rows; see README, performance).
  std::string sql = "INSERT INTO " + quote_qualified(table) + " (";
  for (std::size_t i = 0; i < columns.size(); ++i) sql += (i ? ", " : "") + quote_identifier(columns[i]);
  sql += ") SELECT * FROM unnest(";
  Params arrays;
  arrays.reserve(columns.size());
  for (std::size_t c = 0; c < columns.size(); ++c) {
    arrays.push_back(array_literal(rows, c));
    sql += (c ? ", $" : "$") + std::to_string(c + 1) + "::" + types[c];
  }
  sql += ')';
  if (!suffix.empty()) {
    sql += ' ';
    sql += suffix;
  }
  return s.exec(sql, arrays);
}

Result<std::size_t> insert_rows(Pool& pool, std::string_view table, const std::vector<std::string>& columns,
                                const std::vector<Params>& rows, std::string_view suffix) {
  return pool.with_session([&](Session& s) { return insert_rows(s, table, columns, rows, suffix); });
}

Result<std::size_t> append_rows(Pool& pool, std::string_view table, const std::vector<std::string>& columns,
                                const std::vector<Params>& rows, std::string_view on_conflict) {
  return pool.with_session([&](Session& s) -> Result<std::size_t> {
    // A failed COPY stores nothing (it is one statement), so the INSERT sees the same table.
    auto copied = s.copy_in(table, columns, rows);
    if (copied.ok() || copied.error().code != Errc::conflict) return copied;
    return insert_rows(s, table, columns, rows, on_conflict);
  });
}

Result<std::size_t> copy_all(Pool& pool, const std::vector<Append>& tables) {
  return pool.transaction([&](Session& s) -> Result<std::size_t> {
    std::size_t n = 0;
    for (const auto& t : tables) {
      if (t.rows.empty()) continue;
      DM_ASSIGN_OR_RETURN(auto stored, s.copy_in(t.table, t.columns, t.rows));
      n += stored;
    }
    return n;
  });
}

Result<std::size_t> append_all(Pool& pool, const std::vector<Append>& tables) {
  // COPY first: the common case, new rows. A conflict aborts the transaction, so the rows
  // already there (a batch redelivered after a crash) are skipped in a second transaction.
  auto copied = copy_all(pool, tables);
  if (copied.ok() || copied.error().code != Errc::conflict) return copied;
  return pool.transaction([&](Session& s) -> Result<std::size_t> {
    std::size_t n = 0;
    for (const auto& t : tables) {
      if (t.rows.empty()) continue;
      DM_ASSIGN_OR_RETURN(auto stored, insert_rows(s, t.table, t.columns, t.rows, t.on_conflict));
      n += stored;
    }
    return n;
  });
}

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    append_array_element(out, values[i]);
  }
  out += '}';
  return out;
}

}  // namespace dm::db
