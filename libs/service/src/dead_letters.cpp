#include "dm/service/dead_letters.hpp"

#include <stdexcept>
#include <variant>

#include "dm/api/query.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/contract/taps.hpp"
#include "dm/core/encoding.hpp"
#include "dm/core/log.hpp"
#include "dm/core/text.hpp"
#include "dm/core/time.hpp"
#include "dm/core/uuid.hpp"
#include "dm/json/json.hpp"

namespace dm::service {
namespace {

constexpr std::size_t kRetryAllAtOnce = 1000;

// bytea in PostgreSQL's hex input form: whatever the payload holds travels as plain ASCII.
std::string hex_bytea(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

contract::DeadLetterKind kind_named(std::string_view word) {
  if (auto kind = contract::parse<contract::DeadLetterKind>(word)) return *kind;
  throw std::invalid_argument("no dead-letter kind is called '" + std::string(word) + "'");
}

http::Response store_error(const Error& e) {
  log::error("dead letter store failed", {{"error", e.message}});
  return http::Response::error(503, "Dead letters are unavailable");
}

}  // namespace

DeadLetterBox::DeadLetterBox(db::Pool& db, bus::Connection& nats, contract::DeadLetterKind kind)
    : db_(db), nats_(nats), kind_(contract::to_string(kind)), event_kind_(kind) {}

DeadLetterBox::DeadLetterBox(db::Pool& db, bus::Connection& nats, std::string_view kind)
    : DeadLetterBox(db, nats, kind_named(kind)) {}

Result<void> DeadLetterBox::add(const std::vector<DeadLetter>& letters) {
  if (letters.empty()) return ok();
  std::vector<db::Params> rows;
  std::vector<std::string> ids;
  rows.reserve(letters.size());
  for (const auto& d : letters) {
    ids.push_back(uuid_v7());
    // Key, subject and error come from the refused item and the server's complaint about
    // it: stored printable, or the dead letter would be refused for the same bytes.
    rows.push_back({ids.back(), kind_, printable(d.key, 512),
                    d.subject.empty() ? db::Param() : db::Param(printable(d.subject, 512)), hex_bytea(d.payload),
                    printable(d.error, 4096), std::to_string(d.attempts)});
  }
  DM_TRY(db::insert_rows(db_, "dead_letters", {"id", "kind", "key", "subject", "payload", "error", "attempts"}, rows,
                         "ON CONFLICT (kind, key) DO UPDATE SET payload = EXCLUDED.payload, error = EXCLUDED.error,"
                         " attempts = dead_letters.attempts + EXCLUDED.attempts, created_at = now()"));
  auto at = format_rfc3339(now());
  for (std::size_t i = 0; i < letters.size(); ++i) {
    log::warn("dead-lettered",
              {{"kind", kind_}, {"key", printable(letters[i].key, 256)}, {"error", printable(letters[i].error, 1024)}});
    const DeadLetter& d = letters[i];
    contract::DeadLetterEvent event{.kind = event_kind_,
                                    .id = ids[i],
                                    .key = d.key,
                                    .subject = d.subject.empty() ? std::nullopt : std::optional<std::string>(d.subject),
                                    .error = d.error,
                                    .attempts = d.attempts,
                                    .at = at};
    (void)nats_.publish(contract::subject::dead_letter(kind_), contract::encode(event));
  }
  return ok();
}

namespace {

std::string from_hex_bytea(std::string_view text) {
  // bytea in text results is "\x" followed by two hex digits per byte (bytea_output = hex).
  auto digit = [](char c) -> int { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  if (text.size() < 2) return out;
  out.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < text.size(); i += 2)
    out += static_cast<char>(digit(text[i]) << 4 | digit(text[i + 1]));
  return out;
}

constexpr const char* kColumns = "id, key, coalesce(subject, ''), payload, attempts, error, created_at";

StoredDeadLetter stored(const db::Rows& rows, std::size_t i) {
  StoredDeadLetter d;
  d.id = std::string(rows.get(i, 0));
  d.key = std::string(rows.get(i, 1));
  d.subject = std::string(rows.get(i, 2));
  d.payload = from_hex_bytea(rows.get(i, 3));
  d.attempts = static_cast<int>(rows.get_int(i, 4));
  return d;
}

void write_letter(json::Writer& w, const std::string& kind, const db::Rows& rows, std::size_t i, bool with_payload) {
  auto d = stored(rows, i);
  w.start_object().field("id", d.id).field("kind", kind).field("key", d.key);
  w.key("subject");
  if (d.subject.empty())
    w.null();
  else
    w.string(d.subject);
  w.field("error", rows.get(i, 5)).field("attempts", d.attempts);
  auto at = parse_rfc3339(std::string(rows.get(i, 6)));
  w.field("created_at", at ? format_rfc3339(*at) : std::string(rows.get(i, 6)));
  w.field("size", static_cast<std::int64_t>(d.payload.size()));
  if (with_payload) {
    // As text when it is text; always exactly, in base64.
    w.key("payload");
    if (valid_utf8(d.payload) && d.payload.find('\0') == std::string::npos)
      w.string(d.payload);
    else
      w.null();
    w.field("payload_base64", base64_encode(d.payload));
  }
  w.end_object();
}

struct RetryCount {
  int retried = 0, failed = 0;
};

// Retries one stored letter: ok → deleted; refused again → kept with the new error.
Result<bool> retry_one(db::Pool& db, const StoredDeadLetter& d, const DeadLetterBox::Retry& retry) {
  auto again = retry(d);
  if (again) {
    DM_TRY(db.exec("DELETE FROM dead_letters WHERE id = $1::uuid", {d.id}));
    log::info("dead letter retried", {{"id", d.id}, {"key", d.key}});
    return true;
  }
  DM_TRY(db.exec("UPDATE dead_letters SET error = $2, attempts = attempts + 1 WHERE id = $1::uuid",
                 {d.id, printable(again.error().message, 4096)}));
  return false;
}

http::Response retry_result(const RetryCount& c, std::int64_t remaining) {
  json::Writer w;
  w.start_object().field("retried", c.retried).field("failed", c.failed).field("remaining", remaining).end_object();
  return http::Response::json(200, w.take());
}

// GET <base>: one page of the kind's letters, newest first, with X-Total-Count.
http::Response list_letters(db::Pool& db, const std::string& kind, const http::Request& req) {
  api::QueryReader q(req);
  auto page = q.paging();
  if (!q.ok()) return q.response();
  auto count = db.exec("SELECT count(*) FROM dead_letters WHERE kind = $1", {kind});
  if (!count) return store_error(count.error());
  auto rows = db.exec(std::string("SELECT ") + kColumns +
                          " FROM dead_letters WHERE kind = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
                      {kind, std::to_string(page.limit), std::to_string(page.skip)});
  if (!rows) return store_error(rows.error());
  json::Writer w;
  w.start_array();
  for (std::size_t i = 0; i < rows->size(); ++i) write_letter(w, kind, *rows, i, false);
  w.end_array();
  auto r = http::Response::json(200, w.take());
  r.headers.set("X-Total-Count", std::to_string(count->get_int(0, 0)));
  return r;
}

// One dead letter by the id in the path: its row, or the answer to give instead.
std::variant<db::Rows, http::Response> find_letter(db::Pool& db, const std::string& kind, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return http::Response::error(404, "Dead letter not found");
  auto rows =
      db.exec(std::string("SELECT ") + kColumns + " FROM dead_letters WHERE kind = $1 AND id = $2::uuid", {kind, id});
  if (!rows) return store_error(rows.error());
  if (rows->empty()) return http::Response::error(404, "Dead letter not found");
  return std::move(rows).value();
}

http::Response discard_letter(db::Pool& db, const std::string& kind, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return http::Response::error(404, "Dead letter not found");
  auto rows = db.exec("DELETE FROM dead_letters WHERE kind = $1 AND id = $2::uuid", {kind, id});
  if (!rows) return store_error(rows.error());
  if (rows->affected() == 0) return http::Response::error(404, "Dead letter not found");
  log::info("dead letter discarded", {{"kind", kind}, {"id", id}});
  return http::Response::empty(204);
}

// POST <base>/retry: the oldest kRetryAllAtOnce letters, and how many are left.
http::Response retry_all(db::Pool& db, const std::string& kind, const DeadLetterBox::Retry& retry) {
  auto rows =
      db.exec(std::string("SELECT ") + kColumns + " FROM dead_letters WHERE kind = $1 ORDER BY created_at, id LIMIT $2",
              {kind, std::to_string(kRetryAllAtOnce)});
  if (!rows) return store_error(rows.error());
  RetryCount c;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    auto done = retry_one(db, stored(*rows, i), retry);
    if (!done) return store_error(done.error());
    (*done ? c.retried : c.failed)++;
  }
  auto left = db.exec("SELECT count(*) FROM dead_letters WHERE kind = $1", {kind});
  return retry_result(c, left ? left->get_int(0, 0) : -1);
}

}  // namespace

void DeadLetterBox::add_routes(http::Router& router, const Retry& retry) {
  const std::string base = "/api/v1/dead-letters/" + kind_;
  router.add_sync("GET", base, [this](const http::Request& req) { return list_letters(db_, kind_, req); });
  router.add_sync("GET", base + "/{id}", [this](const http::Request& req) {
    auto found = find_letter(db_, kind_, req);
    if (auto* answer = std::get_if<http::Response>(&found)) return std::move(*answer);
    json::Writer w;
    write_letter(w, kind_, std::get<db::Rows>(found), 0, true);
    return http::Response::json(200, w.take());
  });
  router.add_sync("DELETE", base + "/{id}",
                  [this](const http::Request& req) { return discard_letter(db_, kind_, req); });
  router.add_sync("POST", base + "/{id}/retry", [this, retry](const http::Request& req) {
    auto found = find_letter(db_, kind_, req);
    if (auto* answer = std::get_if<http::Response>(&found)) return std::move(*answer);
    RetryCount c;
    auto done = retry_one(db_, stored(std::get<db::Rows>(found), 0), retry);
    if (!done) return store_error(done.error());
    (*done ? c.retried : c.failed)++;
    return retry_result(c, *done ? 0 : 1);
  });
  router.add_sync("POST", base + "/retry",
                  [this, retry](const http::Request&) { return retry_all(db_, kind_, retry); });
}

}  // namespace dm::service
