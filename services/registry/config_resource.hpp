#pragma once
// Integrations and storages are the same kind of resource: a unique name, a `type`, and a
// config whose shape depends on the type and which may hold secrets. This is their shared
// CRUD; integrations.cpp and storages.cpp supply what differs (types, config rules, which
// config values are secret).
//
//   GET/POST          /api/v1/<plural>            list (type/status filters), create
//   GET/PUT/PATCH/DEL /api/v1/<plural>/{id}       one; PUT and PATCH both take partial bodies
//   GET               /internal/v1/<plural>/{id}  the same document with secrets opened; only
//                                                 over NATS (the gateway's table lacks it)
//
// Updates: a `config` in the body replaces the stored one as a whole (validated against the
// type, defaults filled in); secrets sent back masked keep their stored values, but only while
// the destination stays the same (destination_of): a config re-pointed elsewhere must carry
// every secret in clear, else 422 names each one. The type may change only together with a
// new config.
//
// At start-up, rows stored before today's secret rule are brought under it (reseal_config):
// their clear secrets are sealed and their shown form masked anew; nothing a sender reads
// changes, so no version bump and no change event.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common.hpp"
#include "dm/api/body.hpp"
#include "dm/http/outbound.hpp"
#include "secrets.hpp"

namespace dm::registry {

struct ConfigResourceSpec {
  std::string kind;    // "integration": change events and flow references
  std::string what;    // "Integration": messages
  std::string a_what;  // "An integration": the duplicate-name message
  std::string table;   // "integrations"
  std::string view;    // "integration_docs"
  std::string plural;  // "integrations": the route segment
  std::vector<std::string> types;
  std::vector<std::string> statuses;   // read-only status column to filter on; empty = none
  std::vector<std::string> read_only;  // output fields a client may send back (ignored)
  // Validates `config` for `type` (errors located under body.config) and returns it
  // normalised, every key present (defaults filled in), secrets still in clear.
  std::function<std::optional<std::string>(std::string_view type, const json::Value& config,
                                           std::vector<api::FieldError>& errors)>
      read_config;
  // Which values of a (normalised or stored) config of `type` are secrets.
  std::function<std::vector<SecretField>(std::string_view type, const json::Value& config)> secrets_of;
  // Where a normalised config (secrets in clear or masked, never sealed) of `type` sends its
  // secrets: equal strings mean the same destination.
  std::function<std::string(std::string_view type, const json::Value& config)> destination_of;
};

void add_config_resource_routes(http::Router& router, Context& ctx, std::shared_ptr<const ConfigResourceSpec> spec);

// Validation helpers shared by the config readers.

// True if the text holds a control character (would let values smuggle lines into
// requests, topics or logs).
bool has_control_chars(std::string_view text);
// The operator's allow-list for outbound destinations (OUTBOUND_ALLOW, also read by the
// dispatcher, which checks again on every connect). Read once; a bad list allows nothing extra.
const http::OutboundPolicy& outbound_policy();
// An http:// or https:// URL the HTTP client accepts (no credentials in it), and whose host
// the outbound guard allows.
void check_http_url(api::BodyReader& r, std::string_view field, const std::string& url);
// Records the outbound guard's refusal of `field`'s destination, if any.
void check_outbound(api::BodyReader& r, std::string_view field, const Result<void>& checked);
// "scheme://host:port/path" of an http(s) URL (the query left out), or the URL itself when it
// does not parse: what a destination comparison of HTTP URLs looks at.
std::string http_destination(std::string_view url);
// An object of string values ({"header": "value"}, {"tag": "path"}): entries in order, or
// nullopt when absent or wrong (errors recorded). Names are 1..255 characters, values at most
// `max_value` characters; neither may hold control characters.
std::optional<std::vector<std::pair<std::string, std::string>>> read_string_map(api::BodyReader& r,
                                                                                std::string_view field,
                                                                                std::size_t max_value = 1024);
// Writes {"a": "x", ...}.
void write_string_map(json::Writer& w, std::string_view key,
                      const std::vector<std::pair<std::string, std::string>>& map);

}  // namespace dm::registry
