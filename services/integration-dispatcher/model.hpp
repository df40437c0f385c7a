#pragma once
// The dispatcher's values: a delivery job as it arrives, the targets it goes to (as the
// registry's internal routes describe them, secrets opened), and what one attempt did.
// Pure: parsing and decisions here are tested without servers.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "dm/contract/work.hpp"
#include "dm/core/result.hpp"
#include "dm/core/time.hpp"
#include "dm/http/outbound.hpp"
#include "dm/json/json.hpp"

namespace dm::dispatcher {

// A delivery job as it arrived (contract::DeliveryJob: job_id is the idempotency key).
struct Job : contract::DeliveryJob {
  std::string raw;  // the whole job as received (kept with a dead letter)
};
// contract::decode_delivery_job, and a job id PostgreSQL can store (the key of every row).
Result<Job> parse_job(std::string_view text);

struct HttpTarget {
  std::string url;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{10000};
  bool verify_tls = true;
  std::string ca_cert;
};

struct MqttTarget {
  std::string host;
  int port = 1883;
  std::string topic;  // template: {dev_eui}, {device_name}, {flow_id}
  std::string username, password;
  int qos = 1;
  bool retain = false;
  bool use_tls = false;
  std::string ca_cert, client_cert, client_key, client_id;
};

struct InternalStorage {};
struct InfluxStorage {
  std::string url, database, org, bucket, token, username, password, measurement, precision = "ms";
  std::vector<std::pair<std::string, std::string>> tags, fields;  // name → message path
};
struct PostgresStorage {
  std::string connection_url, table;
};

using TargetSpec = std::variant<HttpTarget, MqttTarget, InternalStorage, InfluxStorage, PostgresStorage>;

struct Target {
  std::string id;
  contract::JobKind kind = contract::JobKind::integration;
  std::string type;  // http | mqtt | internal | influxdb | postgresql
  std::int64_t version = 0;
  std::string name;
  TargetSpec spec;
  // A stable key of the destination's connection settings (pools and MQTT sessions are
  // rebuilt when it changes).
  std::string connection_key;
};
// From the registry's /internal/v1/<plural>/{id} document.
Result<Target> parse_target(contract::JobKind kind, std::string_view document);

// What one attempt did.
struct Outcome {
  bool delivered = false;
  bool permanent = false;  // not worth retrying (4xx, TLS verification, refused destination, bad config)
  std::optional<int> http_status;
  std::optional<std::string> error;
  std::optional<std::chrono::milliseconds> retry_after;  // 429/503 Retry-After
  std::string request;                                   // JSON object for history (secrets redacted), or empty
  std::string response;                                  // JSON object for history, or empty
  double duration_ms = 0;
};

// Classification of an HTTP answer: 2xx delivered; 408, 425, 429 and 5xx transient; other
// 4xx (and 3xx: redirects are not followed) permanent.
void classify_http_status(int status, Outcome& out);
// Retry-After as seconds or an HTTP date; nullopt when absent or unreadable.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, SysTime now);

// Delay before attempt `attempt + 1`: base * 2^(attempt-1), capped, with ±20 % jitter; a
// Retry-After wins when longer (capped too).
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                        std::optional<std::chrono::milliseconds> retry_after, double jitter01);

// "15m", "30s", "2h", "1500ms": a duration as messages and logs show it.
std::string duration_text(std::chrono::milliseconds d);

// Bodies kept in history and /test answers: the first 64 KiB, cut on a character boundary.
inline constexpr std::size_t kMaxKeptBody = 64 << 10;

// A PostgreSQL storage's URL with libpq's hostaddr set to `address`, which the outbound guard
// approved for the URL's host: libpq then connects there and nowhere else (no second DNS
// lookup, no PGHOSTADDR from the environment), while host still names the server for TLS (SNI,
// and the certificate check of sslmode=verify-full) and sslmode and the rest of the URL are
// kept. `url` must have passed http::postgres_target, which refuses a hostaddr, host or port
// parameter of its own.
std::string pinned_postgres_url(std::string_view url, const http::IpAddress& address);

// "{dev_eui}/up" → "0004a30b001c0530/up"; device_name comes from the message when present.
std::string expand_topic(std::string_view topic, const Job& job);

// GET integrations send the message's top-level scalar fields as query parameters.
std::string query_from_message(std::string_view target, const json::Value& message);

// A dotted path into a message ("object.temperature", "rxInfo.0.rssi").
const json::Value* find_path(const json::Value& root, std::string_view path);

}  // namespace dm::dispatcher
