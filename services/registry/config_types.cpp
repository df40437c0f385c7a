#include "config_types.hpp"

#include "dm/core/strings.hpp"
#include "dm/http/client.hpp"

namespace dm::registry {
namespace {

bool is_integration_type(ConfigType type) { return type == ConfigType::http || type == ConfigType::mqtt; }

}  // namespace

std::optional<std::string> read_config(ConfigType type, const json::Value& config, const http::OutboundPolicy& outbound,
                                       std::vector<api::FieldError>& errors) {
  if (is_integration_type(type)) return read_integration_config(type, config, outbound, errors);
  return read_storage_config(type, config, outbound, errors);
}

std::vector<SecretField> config_secrets(ConfigType type, const json::Value& config) {
  return is_integration_type(type) ? integration_secrets(type, config) : storage_secrets(type, config);
}

std::string config_destination(ConfigType type, const json::Value& config) {
  return is_integration_type(type) ? integration_destination(type, config) : storage_destination(type, config);
}

bool has_control_chars(std::string_view text) { return json::find_control(text) != std::string_view::npos; }

void check_outbound(api::BodyReader& r, std::string_view field, const Result<void>& checked) {
  if (!checked) r.add_error(std::string(field), "refused: " + checked.error().message, "value_error");
}

void check_http_url(api::BodyReader& r, std::string_view field, const std::string& url,
                    const http::OutboundPolicy& outbound) {
  auto parsed = http::parse_url(url);
  if (!parsed) {
    r.add_error(std::string(field), "Input should be a valid http:// or https:// URL (" + parsed.error().message + ")",
                "url_parsing");
    return;
  }
  // Refused at save time too, so nobody learns of it only when deliveries fail.
  check_outbound(r, field, http::check_outbound_host(outbound, parsed->host, parsed->port));
}

std::string http_destination(std::string_view url) {
  auto parsed = http::parse_url(url);
  if (!parsed) return std::string(url);
  std::string path = parsed->target.substr(0, parsed->target.find('?'));
  return parsed->scheme + "://" + lower(parsed->host) + ":" + std::to_string(parsed->port) + path;
}

std::optional<StringMap> read_string_map(api::BodyReader& r, std::string_view field, std::size_t max_value) {
  const auto* v = r.raw(field);
  if (!v || v->IsNull()) return std::nullopt;
  if (!v->IsObject()) {
    r.add_error(std::string(field), "Input should be a valid dictionary", "dict_type");
    return std::nullopt;
  }
  if (v->MemberCount() > 100) {
    r.add_error(std::string(field), "At most 100 entries", "too_long");
    return std::nullopt;
  }
  StringMap out;
  bool good = true;
  for (const auto& m : v->GetObject()) {
    std::string name(json::view(m.name));
    auto bad = [&](std::string msg, std::string type) {
      r.add_error_at({std::string(field), name}, std::move(msg), std::move(type));
      good = false;
    };
    if (name.empty() || name.size() > 255 || has_control_chars(name)) {
      bad("Names should have 1 to 255 characters, without control characters", "value_error");
    } else if (!m.value.IsString()) {
      bad("Input should be a valid string", "string_type");
    } else if (m.value.GetStringLength() > max_value || has_control_chars(json::view(m.value))) {
      bad("Values should have at most " + std::to_string(max_value) + " characters, without control characters",
          "value_error");
    } else {
      out.emplace_back(name, std::string(json::view(m.value)));
    }
  }
  if (!good) return std::nullopt;
  return out;
}

void write_string_map(json::Writer& w, std::string_view key, const StringMap& map) {
  w.key(key).start_object();
  for (const auto& [k, v] : map) w.field(k, v);
  w.end_object();
}

}  // namespace dm::registry
