#pragma once
// The configs of integrations (http, mqtt) and storages (internal, influxdb, postgresql):
// what each type accepts, which of its values are secrets and where it sends them. Pure
// but for the outbound guard, which may resolve a host name (libs/http/outbound.hpp).
// integration_config.cpp and storage_config.cpp hold each family's rules; the helpers at the
// end are shared by both.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dm/api/body.hpp"
#include "dm/http/outbound.hpp"
#include "dm/json/json.hpp"
#include "domain.hpp"
#include "secrets.hpp"

namespace dm::registry {

// Validates `config` for `type` (errors located under body.config) and returns it normalised,
// every key present (defaults filled in), secrets still in clear; nullopt after recording errors.
// Destinations must pass the outbound guard under `outbound` (OUTBOUND_ALLOW).
std::optional<std::string> read_config(ConfigType type, const json::Value& config, const http::OutboundPolicy& outbound,
                                       std::vector<api::FieldError>& errors);
// Which values of a (normalised or stored) config of `type` are secrets.
std::vector<SecretField> config_secrets(ConfigType type, const json::Value& config);
// Where a normalised config (secrets in clear or masked, never sealed) of `type` sends its
// secrets: equal strings mean the same destination.
std::string config_destination(ConfigType type, const json::Value& config);

// Each family's part of the three above (integration_config.cpp, storage_config.cpp).
std::optional<std::string> read_integration_config(ConfigType type, const json::Value& config,
                                                   const http::OutboundPolicy& outbound,
                                                   std::vector<api::FieldError>& errors);
std::vector<SecretField> integration_secrets(ConfigType type, const json::Value& config);
std::string integration_destination(ConfigType type, const json::Value& config);
std::optional<std::string> read_storage_config(ConfigType type, const json::Value& config,
                                               const http::OutboundPolicy& outbound,
                                               std::vector<api::FieldError>& errors);
std::vector<SecretField> storage_secrets(ConfigType type, const json::Value& config);
std::string storage_destination(ConfigType type, const json::Value& config);

// --- Shared by the config readers.

// True if the text holds a control character (would let values smuggle lines into
// requests, topics or logs).
bool has_control_chars(std::string_view text);
// An http:// or https:// URL the HTTP client accepts (no credentials in it), and whose host
// the outbound guard allows.
void check_http_url(api::BodyReader& r, std::string_view field, const std::string& url,
                    const http::OutboundPolicy& outbound);
// Records the outbound guard's refusal of `field`'s destination, if any.
void check_outbound(api::BodyReader& r, std::string_view field, const Result<void>& checked);
// "scheme://host:port/path" of an http(s) URL (the query left out), or the URL itself when it
// does not parse: what a destination comparison of HTTP URLs looks at.
std::string http_destination(std::string_view url);
// An object of string values ({"header": "value"}, {"tag": "path"}): entries in order, or
// nullopt when absent or wrong (errors recorded). Names are 1..255 characters, values at most
// `max_value` characters; neither may hold control characters.
using StringMap = std::vector<std::pair<std::string, std::string>>;
std::optional<StringMap> read_string_map(api::BodyReader& r, std::string_view field, std::size_t max_value = 1024);
// Writes {"a": "x", ...}.
void write_string_map(json::Writer& w, std::string_view key, const StringMap& map);

}  // namespace dm::registry
