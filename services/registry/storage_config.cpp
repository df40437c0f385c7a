// Storage configs: where flows keep messages — the internal store, InfluxDB, or a
// PostgreSQL table (the CRUD is config_resource.cpp's). Secrets: the InfluxDB token and
// password, and the URLs when they hold credentials (sealed whole, shown with those parts
// masked: dm/http/secrets.hpp). Both URLs pass the outbound guard at save; a PostgreSQL URL
// may name its server only in its authority (http::postgres_target).
#include <cctype>

#include "config_types.hpp"
#include "dm/http/secrets.hpp"

namespace dm::registry {
namespace {

const std::vector<std::string> kInternalKeys = {"retention_days"};
const std::vector<std::string> kInfluxKeys = {"url",      "database",    "org",  "bucket", "token",    "username",
                                              "password", "measurement", "tags", "fields", "precision"};
const std::vector<std::string> kPostgresKeys = {"connection_url", "table"};
const std::vector<std::string> kPrecisions = {"ns", "us", "ms", "s"};

std::optional<std::string> read_internal(const json::Value& config, std::vector<api::FieldError>& errors) {
  api::BodyReader r(config, {"body", "config"});
  r.forbid_unknown(kInternalKeys);
  auto days = r.integer("retention_days", {.min = 1, .max = 36500, .nullable = true});
  errors.insert(errors.end(), r.errors().begin(), r.errors().end());
  if (!r.ok()) return std::nullopt;
  json::Writer w;
  w.start_object().key("retention_days");
  if (days)
    w.integer(*days);
  else
    w.null();
  w.end_object();
  return w.take();
}

// InfluxDB 1.x writes to a database, 2.x to an org's bucket: exactly one of the two.
void check_influx_target(api::BodyReader& r, const std::optional<std::string>& database,
                         const std::optional<std::string>& org, const std::optional<std::string>& bucket) {
  if (database && (org || bucket)) {
    r.add_error("database", "Give database (InfluxDB 1.x) or org and bucket (InfluxDB 2.x), not both", "value_error");
  } else if (!database && !org && !bucket) {
    r.add_error("database", "Give database (InfluxDB 1.x) or org and bucket (InfluxDB 2.x)", "missing");
  } else if (!database && !org) {
    r.add_error("org", "bucket needs org (InfluxDB 2.x)", "missing");
  } else if (!database && !bucket) {
    r.add_error("bucket", "org needs bucket (InfluxDB 2.x)", "missing");
  }
}

void check_influx_auth(api::BodyReader& r, const std::optional<std::string>& token,
                       const std::optional<std::string>& username, const std::optional<std::string>& password) {
  if (token && (username || password)) {
    r.add_error("token", "Give token (InfluxDB 2.x) or username and password (1.x), not both", "value_error");
  } else if (password && !username) {
    r.add_error("username", "password needs a username", "missing");
  }
}

std::optional<std::string> read_influxdb(const json::Value& config, const http::OutboundPolicy& outbound,
                                         std::vector<api::FieldError>& errors) {
  api::BodyReader r(config, {"body", "config"});
  r.forbid_unknown(kInfluxKeys);
  auto url = r.string("url", {.required = true, .min = 1, .max = 2048});
  if (url) check_http_url(r, "url", *url, outbound);
  auto database = r.string("database", {.min = 1, .max = 255, .nullable = true});
  auto org = r.string("org", {.min = 1, .max = 255, .nullable = true});
  auto bucket = r.string("bucket", {.min = 1, .max = 255, .nullable = true});
  if (r.ok()) check_influx_target(r, database, org, bucket);
  auto token = r.string("token", {.min = 1, .max = 4096, .nullable = true});
  auto username = r.string("username", {.min = 1, .max = 255, .nullable = true});
  auto password = r.string("password", {.max = 1024, .nullable = true});
  check_influx_auth(r, token, username, password);
  auto measurement = r.string("measurement", {.required = true, .min = 1, .max = 255});
  auto tags = read_string_map(r, "tags", 256);
  auto fields = read_string_map(r, "fields", 256);
  // A point without fields is not a point: the line protocol refuses it.
  if (!r.present("fields") || r.is_null("fields"))
    r.add_error("fields", "Field required", "missing");
  else if (fields && fields->empty())
    r.add_error("fields", "Map at least one field to a message path", "too_short");
  std::string precision = "ms";
  if (r.present("precision")) {
    if (auto p = r.choice("precision", kPrecisions)) precision = *p;
  }
  errors.insert(errors.end(), r.errors().begin(), r.errors().end());
  if (!r.ok()) return std::nullopt;
  json::Writer w;
  w.start_object().field("url", *url);
  w.field_or_null("database", database).field_or_null("org", org).field_or_null("bucket", bucket);
  w.field_or_null("token", token).field_or_null("username", username).field_or_null("password", password);
  w.field("measurement", *measurement);
  write_string_map(w, "tags", tags.value_or(StringMap{}));
  write_string_map(w, "fields", *fields);
  w.field("precision", precision).end_object();
  return w.take();
}

// schema.table or table: what the dispatcher will quote and insert into.
bool is_table_name(const std::string& name) {
  if (name.empty() || name.size() > 127 || name.front() == '.' || name.back() == '.') return false;
  if (std::isdigit(static_cast<unsigned char>(name.front())) || name.find("..") != std::string::npos) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool word = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (!word && c != '.') return false;
    if (c == '.' && std::isdigit(static_cast<unsigned char>(name[i + 1]))) return false;
  }
  return true;
}

std::optional<std::string> read_postgresql(const json::Value& config, const http::OutboundPolicy& outbound,
                                           std::vector<api::FieldError>& errors) {
  api::BodyReader r(config, {"body", "config"});
  r.forbid_unknown(kPostgresKeys);
  auto url = r.string("connection_url", {.required = true, .min = 1, .max = 2048});
  if (url && ((!url->starts_with("postgresql://") && !url->starts_with("postgres://")) || has_control_chars(*url) ||
              url->find(' ') != std::string::npos)) {
    r.add_error("connection_url", "Input should be a postgresql://user:password@host:port/database URL", "url_parsing");
  } else if (url) {
    check_outbound(r, "connection_url", http::check_postgres_url(outbound, *url));
  }
  auto table = r.string("table", {.required = true, .min = 1, .max = 127});
  if (table && !is_table_name(*table)) {
    r.add_error("table", "table should be an identifier ([A-Za-z_][A-Za-z0-9_]*), optionally schema-qualified",
                "value_error");
  }
  errors.insert(errors.end(), r.errors().begin(), r.errors().end());
  if (!r.ok()) return std::nullopt;
  json::Writer w;
  w.start_object().field("connection_url", *url).field("table", *table).end_object();
  return w.take();
}

}  // namespace

std::optional<std::string> read_storage_config(ConfigType type, const json::Value& config,
                                               const http::OutboundPolicy& outbound,
                                               std::vector<api::FieldError>& errors) {
  if (type == ConfigType::influxdb) return read_influxdb(config, outbound, errors);
  if (type == ConfigType::postgresql) return read_postgresql(config, outbound, errors);
  return read_internal(config, errors);
}

std::vector<SecretField> storage_secrets(ConfigType type, const json::Value& /*config*/) {
  if (type == ConfigType::influxdb)
    return {{.path = {"token"}}, {.path = {"password"}}, {.path = {"url"}, .url = true}};
  if (type == ConfigType::postgresql) return {{.path = {"connection_url"}, .url = true}};
  return {};
}

// A storage's secrets go to its whole URL (secret parts masked, so a masked password compares
// equal to the stored one): any other change of the URL is another destination.
std::string storage_destination(ConfigType type, const json::Value& config) {
  const char* key = type == ConfigType::postgresql ? "connection_url" : "url";
  const auto* url = json::find(config, key);
  if (!url || !url->IsString()) return std::string(word(type));
  return std::string(word(type)) + " " + http::mask_url(json::view(*url));
}

}  // namespace dm::registry
