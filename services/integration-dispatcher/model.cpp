#include "model.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "dm/core/text.hpp"
#include "dm/http/message.hpp"

namespace dm::dispatcher {
namespace {

std::string str_or(const json::Value& obj, std::string_view key, std::string fallback = {}) {
  const auto* v = json::find(obj, key);
  return v && v->IsString() ? std::string(json::view(*v)) : std::move(fallback);
}

std::vector<std::pair<std::string, std::string>> string_map(const json::Value& obj, std::string_view key) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto* v = json::find(obj, key);
  if (!v || !v->IsObject()) return out;
  for (const auto& m : v->GetObject()) {
    if (m.value.IsString()) out.emplace_back(std::string(json::view(m.name)), std::string(json::view(m.value)));
  }
  return out;
}

std::int64_t int_or(const json::Value& obj, std::string_view key, std::int64_t fallback) {
  const auto* v = json::find(obj, key);
  return v && v->IsInt64() ? v->GetInt64() : fallback;
}

bool bool_or(const json::Value& obj, std::string_view key, bool fallback) {
  const auto* v = json::find(obj, key);
  return v && v->IsBool() ? v->GetBool() : fallback;
}

// Each read_* fills the target's spec from its config and names the connection it needs:
// targets with the same connection_key share one.
void read_http(const json::Value& c, Target& t) {
  HttpTarget h;
  h.url = str_or(c, "url");
  h.method = str_or(c, "method", "POST");
  h.headers = string_map(c, "headers");
  h.timeout = std::chrono::milliseconds(int_or(c, "timeout_ms", 10000));
  h.verify_tls = bool_or(c, "verify_tls", true);
  h.ca_cert = str_or(c, "ca_cert");
  t.connection_key = h.url + "|" + (h.verify_tls ? "v" : "n") + "|" + h.ca_cert;
  t.spec = std::move(h);
}

void read_mqtt(const json::Value& c, Target& t) {
  MqttTarget m;
  m.host = str_or(c, "host");
  m.use_tls = bool_or(c, "use_tls", false);
  m.port = static_cast<int>(int_or(c, "port", m.use_tls ? 8883 : 1883));
  m.topic = str_or(c, "topic");
  m.username = str_or(c, "username");
  m.password = str_or(c, "password");
  m.qos = static_cast<int>(int_or(c, "qos", 1));
  m.retain = bool_or(c, "retain", false);
  m.ca_cert = str_or(c, "ca_cert");
  m.client_cert = str_or(c, "client_cert");
  m.client_key = str_or(c, "client_key");
  m.client_id = str_or(c, "client_id");
  t.connection_key = m.host + ":" + std::to_string(m.port) + "|" + m.username + "|" + m.password + "|" +
                     (m.use_tls ? "tls" : "") + m.ca_cert + m.client_cert + m.client_key + "|" + m.client_id;
  t.spec = std::move(m);
}

void read_influx(const json::Value& c, Target& t) {
  InfluxStorage s;
  s.url = str_or(c, "url");
  s.database = str_or(c, "database");
  s.org = str_or(c, "org");
  s.bucket = str_or(c, "bucket");
  s.token = str_or(c, "token");
  s.username = str_or(c, "username");
  s.password = str_or(c, "password");
  s.measurement = str_or(c, "measurement");
  s.precision = str_or(c, "precision", "ms");
  s.tags = string_map(c, "tags");
  s.fields = string_map(c, "fields");
  t.connection_key = s.url;
  t.spec = std::move(s);
}

}  // namespace

Result<Job> parse_job(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto decoded, contract::decode_delivery_job(text));
  // The job id is the key of every row about the job and of the lookups that find them: one
  // PostgreSQL cannot store (a NUL, invalid UTF-8) would make the job unrecordable.
  if (printable(decoded.job_id) != decoded.job_id)
    return make_error(Errc::invalid_argument, "job_id must be UTF-8 without control characters");
  Job job{std::move(decoded), std::string(text)};
  return job;
}

Result<Target> parse_target(contract::JobKind kind, std::string_view document) {
  DM_ASSIGN_OR_RETURN(auto doc, json::parse(document, {.max_bytes = 16 << 20, .max_depth = 64}));
  if (!doc.IsObject()) return make_error(Errc::internal, "registry document is not an object");
  const auto* config = json::find(doc, "config");
  if (!config || !config->IsObject()) return make_error(Errc::internal, "registry document has no config");
  Target t;
  t.id = str_or(doc, "id");
  t.kind = kind;
  t.type = str_or(doc, "type");
  t.name = str_or(doc, "name");
  t.version = int_or(doc, "version", 0);
  const auto& c = *config;
  if (t.type == "http") {
    read_http(c, t);
  } else if (t.type == "mqtt") {
    read_mqtt(c, t);
  } else if (t.type == "internal") {
    t.spec = InternalStorage{};
  } else if (t.type == "influxdb") {
    read_influx(c, t);
  } else if (t.type == "postgresql") {
    t.spec = PostgresStorage{str_or(c, "connection_url"), str_or(c, "table")};
    t.connection_key = std::get<PostgresStorage>(t.spec).connection_url;
  } else {
    return make_error(Errc::invalid_argument,
                      "unknown " + std::string(contract::to_string(kind)) + " type '" + t.type + "'");
  }
  return t;
}

void classify_http_status(int status, Outcome& out) {
  out.http_status = status;
  if (status >= 200 && status < 300) {
    out.delivered = true;
    return;
  }
  out.delivered = false;
  bool transient = status == 408 || status == 425 || status == 429 || status >= 500;
  out.permanent = !transient;
  out.error = "HTTP " + std::to_string(status) + " " + std::string(http::reason_phrase(status));
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, SysTime now_time) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 9) return std::nullopt;
    return std::chrono::seconds(std::atoll(std::string(value).c_str()));
  }
  std::tm tm{};
  std::string text(value);
  if (!strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return std::nullopt;
  auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto diff = std::chrono::duration_cast<std::chrono::milliseconds>(at - now_time);
  return diff.count() > 0 ? diff : std::chrono::milliseconds(0);
}

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                        std::optional<std::chrono::milliseconds> retry_after, double jitter01) {
  double exp = std::ldexp(static_cast<double>(base.count()), std::clamp(attempt - 1, 0, 30));
  double capped = std::min(exp, static_cast<double>(cap.count()));
  double jittered = capped * (0.8 + 0.4 * std::clamp(jitter01, 0.0, 1.0));
  auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(jittered));
  if (retry_after && *retry_after > delay) delay = std::min(*retry_after, std::chrono::milliseconds(cap.count() * 10));
  return delay;
}

std::string duration_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  auto s = ms / 1000;
  if (s >= 3600 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s >= 60 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

std::string pinned_postgres_url(std::string_view url, const http::IpAddress& address) {
  std::string out(url);
  out += url.find('?') == std::string_view::npos ? '?' : '&';
  return out + "hostaddr=" + http::percent_encode(address.text());
}

std::string expand_topic(std::string_view topic, const Job& job) {
  std::string device_name;
  if (auto doc = json::parse(job.message); doc && doc->IsObject()) {
    for (const char* path : {"device_name", "deviceInfo.deviceName", "device.name"}) {
      if (const auto* v = find_path(*doc, path); v && v->IsString()) {
        device_name = std::string(json::view(*v));
        break;
      }
    }
  }
  auto safe = [](std::string s) {  // a value must not add topic levels or wildcards
    for (auto& c : s) {
      if (c == '/' || c == '+' || c == '#' || static_cast<unsigned char>(c) < 0x20) c = '_';
    }
    return s;
  };
  std::string out(topic);
  const std::pair<const char*, std::string> values[] = {
      {"{dev_eui}", safe(job.dev_eui)}, {"{device_name}", safe(device_name)}, {"{flow_id}", safe(job.flow_id)}};
  for (const auto& [key, value] : values) {
    for (auto pos = out.find(key); pos != std::string::npos; pos = out.find(key, pos + value.size())) {
      out.replace(pos, std::strlen(key), value);
    }
  }
  return out;
}

std::string query_from_message(std::string_view target, const json::Value& message) {
  std::string out(target);
  if (!message.IsObject()) return out;
  bool first = out.find('?') == std::string::npos;
  for (const auto& m : message.GetObject()) {
    std::string value;
    if (m.value.IsString())
      value = std::string(json::view(m.value));
    else if (m.value.IsBool())
      value = m.value.GetBool() ? "true" : "false";
    else if (m.value.IsNull())
      continue;
    else
      value = json::to_string(m.value);  // numbers as written; nested values travel as JSON text
    out += first ? '?' : '&';
    first = false;
    out += http::percent_encode(json::view(m.name)) + "=" + http::percent_encode(value);
  }
  return out;
}

const json::Value* find_path(const json::Value& root, std::string_view path) {
  const json::Value* cur = &root;
  while (!path.empty() && cur) {
    auto dot = path.find('.');
    auto part = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    if (cur->IsObject()) {
      cur = json::find(*cur, part);
    } else if (cur->IsArray() && !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
                 return std::isdigit(static_cast<unsigned char>(c));
               })) {
      auto i = static_cast<rapidjson::SizeType>(std::atoi(std::string(part).c_str()));
      cur = i < cur->Size() ? &(*cur)[i] : nullptr;
    } else {
      return nullptr;
    }
  }
  return cur;
}

}  // namespace dm::dispatcher
