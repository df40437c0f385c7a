#include "storage_writer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "dm/core/log.hpp"
#include "dm/core/text.hpp"

namespace dm::dispatcher {
namespace {

// Line protocol escaping: measurement (commas, spaces), keys and tag values (also '=').
std::string escape(std::string_view text, bool equals) {
  std::string out;
  for (char c : text) {
    if (c == ',' || c == ' ' || (equals && c == '=') || c == '\\') out += '\\';
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

std::string field_value(const json::Value& v) {
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsNumber()) {
    double d = v.GetDouble();
    if (!std::isfinite(d)) return {};
    return json::to_string(json::Value(d));
  }
  std::string s = v.IsString() ? std::string(json::view(v)) : json::to_string(v);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::int64_t timestamp(const Job& job, const std::string& precision) {
  auto t = parse_rfc3339(job.created_at);
  auto ns = (t ? *t : now()).time_since_epoch().count();
  if (precision == "s") return ns / 1000000000;
  if (precision == "ms") return ns / 1000000;
  if (precision == "us") return ns / 1000;
  return ns;
}

}  // namespace

Result<std::string> influx_line(const InfluxStorage& s, const Job& job) {
  auto doc = json::parse(job.message);
  if (!doc) return make_error(Errc::invalid_argument, "message is not JSON");
  std::string line = escape(s.measurement, false);
  for (const auto& [name, path] : s.tags) {
    const auto* v = find_path(*doc, path);
    if (!v || v->IsNull() || v->IsObject() || v->IsArray()) continue;
    std::string value = v->IsString() ? std::string(json::view(*v)) : json::to_string(*v);
    if (value.empty()) continue;
    line += "," + escape(name, true) + "=" + escape(value, true);
  }
  std::string fields;
  for (const auto& [name, path] : s.fields) {
    const auto* v = find_path(*doc, path);
    if (!v || v->IsNull()) continue;
    auto value = field_value(*v);
    if (value.empty()) continue;
    fields += (fields.empty() ? "" : ",") + escape(name, true) + "=" + value;
  }
  if (fields.empty()) return make_error(Errc::invalid_argument, "none of the mapped fields has a value in the message");
  return line + " " + fields + " " + std::to_string(timestamp(job, s.precision));
}

void StorageWriter::write_influx(const Target& target, const Job& job, HttpSender::Done done) {
  const auto& s = std::get<InfluxStorage>(target.spec);
  auto line = influx_line(s, job);
  if (!line) {
    Outcome o;
    o.permanent = true;
    o.error = line.error().message;
    return done(std::move(o));
  }
  std::string base = s.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  http::Headers headers;
  headers.set("Content-Type", "text/plain; charset=utf-8");
  std::string url;
  if (!s.database.empty()) {  // 1.x
    std::string p = s.precision == "ns" ? "n" : s.precision == "us" ? "u" : s.precision;
    url = base + "/write?db=" + http::percent_encode(s.database) + "&precision=" + p;
    if (!s.username.empty()) {
      // Basic auth keeps the password out of the URL (and so out of history).
      constexpr const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      std::string in = s.username + ":" + s.password, out;
      int val = 0, bits = -6;
      for (unsigned char c : in) {
        val = (val << 8) + c;
        bits += 8;
        while (bits >= 0) {
          out += kB64[(val >> bits) & 0x3F];
          bits -= 6;
        }
      }
      if (bits > -6) out += kB64[((val << 8) >> (bits + 8)) & 0x3F];
      while (out.size() % 4) out += '=';
      headers.set("Authorization", "Basic " + out);
    }
  } else {  // 2.x
    url = base + "/api/v2/write?org=" + http::percent_encode(s.org) + "&bucket=" + http::percent_encode(s.bucket) +
          "&precision=" + s.precision;
    if (!s.token.empty()) headers.set("Authorization", "Token " + s.token);
  }
  HttpTarget h;
  h.url = url;
  h.timeout = std::chrono::milliseconds(10000);
  http_.send(target.id, target.connection_key, h, "POST", url, *line, headers, std::move(done));
}

Result<std::shared_ptr<StorageWriter::PgTarget>> StorageWriter::pg_target(
    const std::string& target_id, const std::string& url, const std::vector<http::IpAddress>& approved) {
  std::lock_guard lock(mutex_);
  auto& slot = pg_[target_id];
  auto still_approved = [&](const std::string& address) {
    return std::any_of(approved.begin(), approved.end(), [&](const auto& a) { return a.text() == address; });
  };
  if (slot && slot->connection_url == url && still_approved(slot->address)) return slot;
  const auto& address = approved.front();
  auto pool = db::Pool::open({.url = pinned_postgres_url(url, address),
                              .size = 2,
                              .application_name = "dm-dispatcher-storage",
                              .connect_timeout = std::chrono::seconds(5),
                              .acquire_timeout = std::chrono::seconds(10),
                              .statement_timeout = std::chrono::seconds(10)});
  if (!pool) return Error(Errc::invalid_argument, "invalid connection_url: " + pool.error().message);
  slot = std::make_shared<PgTarget>(PgTarget{url, address.text(), std::move(pool).value(), false});
  return slot;
}

Outcome StorageWriter::write_postgres(const Target& target, const Job& job) {
  const auto& s = std::get<PostgresStorage>(target.spec);
  Outcome o;
  auto started = std::chrono::steady_clock::now();
  // The server the URL names, read as libpq reads it; checked, and connected to only at an
  // address the check approved (pinned_postgres_url), never by the raw URL.
  auto server = http::postgres_target(s.connection_url);
  if (!server) {
    o.permanent = true;
    o.error = "invalid connection_url: " + server.error().message;
    return o;
  }
  auto checked = http::resolve_checked(http_.policy(), server->host, server->port);
  if (!checked) {
    o.error = checked.error().message;
    o.permanent = checked.error().code == Errc::forbidden;
    return o;
  }
  auto pg = pg_target(target.id, s.connection_url, *checked);
  if (!pg) {
    o.permanent = true;
    o.error = pg.error().message;
    return o;
  }
  return insert_postgres(**pg, s, job, started);
}

Outcome StorageWriter::insert_postgres(PgTarget& pg, const PostgresStorage& s, const Job& job,
                                       std::chrono::steady_clock::time_point started) {
  Outcome o;
  // schema.table → "schema"."table" (the registry allowed identifiers only).
  std::string table;
  for (std::size_t pos = 0; pos <= s.table.size();) {
    auto dot = s.table.find('.', pos);
    auto part = s.table.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    table += (table.empty() ? "" : ".") + db::quote_identifier(part);
    pos = dot == std::string::npos ? s.table.size() + 1 : dot + 1;
  }
  if (!pg.table_checked) {
    // Made if missing, when the role may; an existing table with these columns works too.
    (void)pg.pool->exec(
        "CREATE TABLE IF NOT EXISTS " + table +
        " (job_id text PRIMARY KEY, dev_eui text, flow_id text, time timestamptz NOT NULL, data jsonb NOT NULL)");
    pg.table_checked = true;
  }
  auto r = pg.pool->exec("INSERT INTO " + table +
                             " (job_id, dev_eui, flow_id, time, data) VALUES ($1, $2, $3, $4::timestamptz, $5::jsonb) "
                             "ON CONFLICT DO NOTHING",
                         {job.job_id, job.dev_eui, job.flow_id, job.created_at, job.message});
  o.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  json::Writer w;
  w.start_object()
      .field("table", s.table)
      .field("body", to_valid_utf8(job.message, kMaxKeptBody))  // whole characters only
      .end_object();
  o.request = w.take();
  if (r) {
    o.delivered = true;
    return o;
  }
  o.error = "PostgreSQL storage: " + r.error().message;
  // Bad data or a missing/incompatible table will not fix itself; connection trouble may.
  o.permanent = r.error().code == Errc::invalid_argument || r.error().code == Errc::internal;
  return o;
}

}  // namespace dm::dispatcher
