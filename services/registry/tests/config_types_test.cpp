// The config rules of integrations and storages, without a stack: defaults, the outbound
// guard at save, which values are secrets and what counts as the same destination.
#include "config_types.hpp"

#include <catch2/catch.hpp>

using dm::registry::ConfigType;

namespace {

struct Read {
  std::optional<std::string> config;
  std::vector<dm::api::FieldError> errors;
  bool refused(const std::string& field) const {
    for (const auto& e : errors) {
      if (!e.loc.empty() && e.loc.back() == field) return true;
    }
    return false;
  }
};

Read read(ConfigType type, std::string_view body, const dm::http::OutboundPolicy& outbound = {}) {
  auto doc = dm::json::parse(body);
  REQUIRE(doc.ok());
  Read out;
  out.config = dm::registry::read_config(type, *doc, outbound, out.errors);
  return out;
}

dm::json::Document parse(std::string_view text) {
  auto doc = dm::json::parse(text);
  REQUIRE(doc.ok());
  return std::move(doc).value();
}

std::string destination(ConfigType type, std::string_view config) {
  return dm::registry::config_destination(type, parse(config));
}

}  // namespace

TEST_CASE("config types: defaults are filled in") {
  auto http = read(ConfigType::http, R"({"url":"https://93.184.216.34/in"})");
  REQUIRE(http.errors.empty());
  CHECK(*http.config == R"({"url":"https://93.184.216.34/in","method":"POST","headers":{},"timeout_ms":10000,)"
                        R"("verify_tls":true,"ca_cert":null})");
  auto mqtt = read(ConfigType::mqtt, R"({"host":"93.184.216.34","topic":"t","use_tls":true})");
  REQUIRE(mqtt.errors.empty());
  CHECK(parse(*mqtt.config)["port"].GetInt() == 8883);
  auto internal = read(ConfigType::internal, "{}");
  CHECK(*internal.config == R"({"retention_days":null})");
}

TEST_CASE("config types: destinations pass the outbound guard unless allowed") {
  CHECK(read(ConfigType::http, R"({"url":"http://127.0.0.1:9000/in"})").refused("url"));
  CHECK(read(ConfigType::mqtt, R"({"host":"10.0.0.1","topic":"t"})").refused("host"));
  CHECK(read(ConfigType::postgresql, R"({"connection_url":"postgresql://u:p@127.0.0.1/db","table":"t"})")
            .refused("connection_url"));
  auto allowed = dm::http::OutboundPolicy::parse("127.0.0.1");
  REQUIRE(allowed.ok());
  CHECK(read(ConfigType::http, R"({"url":"http://127.0.0.1:9000/in"})", *allowed).errors.empty());
}

TEST_CASE("config types: each family's rules") {
  CHECK(read(ConfigType::http, R"({"url":"http://93.184.216.34","headers":{"Content-Length":"5"}})")
            .refused("Content-Length"));
  CHECK(read(ConfigType::mqtt, R"({"host":"93.184.216.34","topic":"devices/#"})").refused("topic"));
  CHECK(read(ConfigType::influxdb, R"({"url":"http://93.184.216.34","database":"d","measurement":"m"})")
            .refused("fields"));
  CHECK(read(ConfigType::postgresql, R"({"connection_url":"postgresql://u:p@93.184.216.34/db","table":"1t"})")
            .refused("table"));
  CHECK(read(ConfigType::internal, R"({"retention_days":0})").refused("retention_days"));
}

TEST_CASE("config types: secrets and destinations") {
  auto http = parse(R"({"url":"https://h/in","headers":{"Authorization":"a","Accept":"b","X-Tenant":"c"}})");
  auto secrets = dm::registry::config_secrets(ConfigType::http, http);
  REQUIRE(secrets.size() == 3);  // the URL, Authorization and X-Tenant; Accept is harmless
  CHECK(secrets[0].url);
  CHECK(dm::registry::config_secrets(ConfigType::internal, parse("{}")).empty());

  // The query of an HTTP URL is not part of its destination; the path and TLS settings are.
  const char* base = R"({"url":"https://H/in?a=1","verify_tls":true,"ca_cert":null})";
  CHECK(destination(ConfigType::http, base) ==
        destination(ConfigType::http, R"({"url":"https://h/in?a=2","verify_tls":true,"ca_cert":null})"));
  CHECK(destination(ConfigType::http, base) !=
        destination(ConfigType::http, R"({"url":"https://h/other","verify_tls":true,"ca_cert":null})"));
  CHECK(destination(ConfigType::http, base) !=
        destination(ConfigType::http, R"({"url":"https://h/in","verify_tls":false,"ca_cert":null})"));
  // A storage's whole URL, its secrets masked: only the secrets may differ.
  CHECK(destination(ConfigType::postgresql, R"({"connection_url":"postgresql://u:p1@h/db"})") ==
        destination(ConfigType::postgresql, R"({"connection_url":"postgresql://u:********@h/db"})"));
  CHECK(destination(ConfigType::postgresql, R"({"connection_url":"postgresql://u:p1@h/db"})") !=
        destination(ConfigType::postgresql, R"({"connection_url":"postgresql://u:p1@h/other"})"));
}
