// Integration configs: HTTP and MQTT delivery targets (the CRUD is config_resource.cpp's).
// Secrets: MQTT password and client_key; every HTTP header value but those of harmless headers, and
// the URL's credential-like query values (dm/http/secrets.hpp).
#include <algorithm>
#include <cctype>
#include <set>

#include "config_types.hpp"
#include "dm/core/strings.hpp"
#include "dm/http/secrets.hpp"

namespace dm::registry {
namespace {

const std::vector<std::string> kHttpKeys = {"url", "method", "headers", "timeout_ms", "verify_tls", "ca_cert"};
const std::vector<std::string> kMqttKeys = {"host",   "port",    "topic",   "username",    "password",   "qos",
                                            "retain", "use_tls", "ca_cert", "client_cert", "client_key", "client_id"};
const std::vector<std::string> kMethods = {"POST", "PUT", "PATCH", "GET"};
const std::vector<std::string> kTopicPlaceholders = {"dev_eui", "device_name", "flow_id"};
// Set by the dispatcher's HTTP client for each request; a fixed value would break framing.
const std::vector<std::string> kManagedHeaders = {"content-length", "transfer-encoding", "connection", "upgrade"};
constexpr std::size_t kMaxPem = std::size_t{64} * 1024;

bool is_token(std::string_view name) {  // RFC 9110 field-name
  static const std::string kExtra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string::npos;
  });
}

// A PEM string or null; null and absence both read as nullopt.
std::optional<std::string> read_pem(api::BodyReader& r, std::string_view field) {
  auto v = r.string(field, {.max = kMaxPem, .nullable = true});
  if (!v) return std::nullopt;
  auto start = v->find_first_not_of(" \t\r\n");
  if (start == std::string::npos || v->compare(start, 11, "-----BEGIN ") != 0 ||
      v->find("-----END ") == std::string::npos) {
    r.add_error(std::string(field), "Input should be a PEM text (-----BEGIN ...-----)", "value_error");
    return std::nullopt;
  }
  return v;
}

std::optional<StringMap> read_headers(api::BodyReader& r) {
  auto headers = read_string_map(r, "headers", 8192);
  if (!headers) return headers;
  std::set<std::string> seen;
  bool good = true;
  for (const auto& [name, value] : *headers) {
    std::string key = lower(name);
    const char* problem = nullptr;
    if (!is_token(name))
      problem = "Header names are HTTP tokens (letters, digits and !#$%&'*+-.^_`|~)";
    else if (!seen.insert(key).second)
      problem = "Header names must be unique (case-insensitively)";
    else if (std::find(kManagedHeaders.begin(), kManagedHeaders.end(), key) != kManagedHeaders.end())
      problem = "This header is set by the dispatcher for each request";
    if (problem) {
      r.add_error_at({"headers", name}, problem, "value_error");
      good = false;
    }
  }
  if (!good) return std::nullopt;
  return headers;
}

std::optional<std::string> read_http(const json::Value& config, const http::OutboundPolicy& outbound,
                                     std::vector<api::FieldError>& errors) {
  api::BodyReader r(config, {"body", "config"});
  r.forbid_unknown(kHttpKeys);
  auto url = r.string("url", {.required = true, .min = 1, .max = 2048});
  if (url) check_http_url(r, "url", *url, outbound);
  std::string method = "POST";
  if (r.present("method")) {
    // Methods are case-sensitive in HTTP, but a lower-case "post" can only mean one thing.
    if (auto m = r.string("method", {.max = 16})) {
      method = m.value();
      std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::toupper(c); });
      if (std::find(kMethods.begin(), kMethods.end(), method) == kMethods.end()) {
        r.add_error("method", "Input should be 'POST', 'PUT', 'PATCH' or 'GET'", "enum");
      }
    }
  }
  auto headers = read_headers(r);
  auto timeout = r.integer("timeout_ms", {.min = 1, .max = 60000, .nullable = true});
  auto verify_tls = r.boolean("verify_tls");
  auto ca_cert = read_pem(r, "ca_cert");
  errors.insert(errors.end(), r.errors().begin(), r.errors().end());
  if (!r.ok()) return std::nullopt;
  json::Writer w;
  w.start_object().field("url", *url).field("method", method);
  write_string_map(w, "headers", headers.value_or(StringMap{}));
  w.field("timeout_ms", timeout.value_or(10000)).field("verify_tls", verify_tls.value_or(true));
  w.field_or_null("ca_cert", ca_cert);
  w.end_object();
  return w.take();
}

void check_host(api::BodyReader& r, const std::string& host) {
  if (host.find("://") != std::string::npos) {
    r.add_error("host", "host should be a host name or IP address, without a scheme (set use_tls for TLS)",
                "value_error");
    return;
  }
  bool good = std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' ||
           c == ']';
  });
  if (!good) r.add_error("host", "host should be a host name or IP address", "value_error");
}

// Publish topics: no wildcards, no broker-reserved $ topics, only known {placeholders}.
void check_topic(api::BodyReader& r, const std::string& topic) {
  auto bad = [&](std::string msg) { r.add_error("topic", std::move(msg), "value_error"); };
  if (has_control_chars(topic)) return bad("topic should not contain control characters");
  if (topic.find_first_of("+#") != std::string::npos) return bad("topic should not contain the wildcards + or #");
  if (topic.front() == '$') return bad("topics starting with $ are reserved for the broker");
  for (std::size_t open = topic.find('{'); open != std::string::npos; open = topic.find('{', open + 1)) {
    auto close = topic.find('}', open);
    std::string name = close == std::string::npos ? "" : topic.substr(open + 1, close - open - 1);
    if (std::find(kTopicPlaceholders.begin(), kTopicPlaceholders.end(), name) == kTopicPlaceholders.end()) {
      return bad("topic placeholders are {dev_eui}, {device_name} and {flow_id}");
    }
  }
}

std::optional<std::string> read_mqtt(const json::Value& config, const http::OutboundPolicy& outbound,
                                     std::vector<api::FieldError>& errors) {
  api::BodyReader r(config, {"body", "config"});
  r.forbid_unknown(kMqttKeys);
  auto host = r.string("host", {.required = true, .min = 1, .max = 253});
  if (host) check_host(r, *host);
  auto port = r.integer("port", {.min = 1, .max = 65535, .nullable = true});
  auto use_tls = r.boolean("use_tls").value_or(false);
  if (host && r.ok()) {
    // A broker is a destination like any other: the same guard as HTTP URLs, at save too.
    check_outbound(r, "host",
                   http::check_outbound_host(outbound, *host, static_cast<int>(port.value_or(use_tls ? 8883 : 1883))));
  }
  auto topic = r.string("topic", {.required = true, .min = 1, .max = 1024});
  if (topic) check_topic(r, *topic);
  auto username = r.string("username", {.max = 256, .nullable = true});
  auto password = r.string("password", {.max = 1024, .nullable = true});
  if (password && !password->empty() && !username)
    r.add_error("password", "A password needs a username (MQTT)", "value_error");
  auto qos = r.integer("qos", {.min = 0, .max = 2, .nullable = true});
  auto retain = r.boolean("retain");
  auto ca_cert = read_pem(r, "ca_cert");
  auto client_cert = read_pem(r, "client_cert");
  auto client_key = read_pem(r, "client_key");
  if (!use_tls) {
    for (const char* f : {"ca_cert", "client_cert", "client_key"}) {
      if (r.present(f) && !r.is_null(f)) r.add_error(f, std::string(f) + " needs use_tls: true", "value_error");
    }
  }
  if (client_cert.has_value() != client_key.has_value() && r.ok()) {
    r.add_error(client_cert ? "client_key" : "client_cert", "client_cert and client_key go together", "value_error");
  }
  auto client_id = r.string("client_id", {.min = 1, .max = 256, .nullable = true});
  if (client_id && has_control_chars(*client_id))
    r.add_error("client_id", "client_id should not contain control characters");
  errors.insert(errors.end(), r.errors().begin(), r.errors().end());
  if (!r.ok()) return std::nullopt;
  json::Writer w;
  w.start_object().field("host", *host).field("port", port.value_or(use_tls ? 8883 : 1883)).field("topic", *topic);
  w.field_or_null("username", username);
  w.field_or_null("password", password);
  w.field("qos", qos.value_or(1)).field("retain", retain.value_or(false)).field("use_tls", use_tls);
  w.field_or_null("ca_cert", ca_cert);
  w.field_or_null("client_cert", client_cert);
  w.field_or_null("client_key", client_key);
  w.field_or_null("client_id", client_id);
  w.end_object();
  return w.take();
}

std::string text_of(const json::Value& config, const char* key) {
  const auto* v = json::find(config, key);
  if (!v || v->IsNull()) return "null";
  return v->IsString() ? std::string(json::view(*v)) : json::to_string(*v);
}

}  // namespace

std::optional<std::string> read_integration_config(ConfigType type, const json::Value& config,
                                                   const http::OutboundPolicy& outbound,
                                                   std::vector<api::FieldError>& errors) {
  return type == ConfigType::mqtt ? read_mqtt(config, outbound, errors) : read_http(config, outbound, errors);
}

std::vector<SecretField> integration_secrets(ConfigType type, const json::Value& config) {
  if (type == ConfigType::mqtt) return {{.path = {"password"}}, {.path = {"client_key"}}};
  std::vector<SecretField> out = {{.path = {"url"}, .url = true}};
  const auto* headers = json::find(config, "headers");
  if (!headers || !headers->IsObject()) return out;
  for (const auto& m : headers->GetObject()) {
    if (!http::is_harmless_header(json::view(m.name)))
      out.push_back({.path = {"headers", std::string(json::view(m.name))}});
  }
  return out;
}

// What a secret would be sent to: HTTP scheme, host, port and path; MQTT host and port; and
// the TLS settings that decide who can read it on the way (verify_tls, use_tls, ca_cert).
std::string integration_destination(ConfigType type, const json::Value& config) {
  if (type == ConfigType::mqtt) {
    return "mqtt " + lower(text_of(config, "host")) + " " + text_of(config, "port") + " tls " +
           text_of(config, "use_tls") + " " + text_of(config, "ca_cert");
  }
  return "http " + http_destination(text_of(config, "url")) + " verify " + text_of(config, "verify_tls") + " " +
         text_of(config, "ca_cert");
}

}  // namespace dm::registry
