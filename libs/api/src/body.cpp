#include "dm/api/body.hpp"

#include <algorithm>
#include <cctype>

namespace dm::api {
namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Counts UTF-8 code points, as pydantic's length checks do.
std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// RFC 8259 JSON is UTF-8 whatever a charset parameter says, so parameters are ignored.
bool is_json_media_type(std::string_view content_type) {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  if (type.empty()) return true;  // as good as no Content-Type (clients that send none are read as JSON)
  constexpr std::string_view kApplication = "application/", kSuffix = "+json";
  if (type.size() < kApplication.size() || !http::iequals(type.substr(0, kApplication.size()), kApplication))
    return false;
  auto subtype = type.substr(kApplication.size());
  return http::iequals(subtype, "json") ||
         (subtype.size() > kSuffix.size() && http::iequals(subtype.substr(subtype.size() - kSuffix.size()), kSuffix));
}

}  // namespace

http::Response validation_error(const std::vector<FieldError>& errors) {
  json::Writer w;
  w.start_object().key("detail").start_array();
  for (const auto& e : errors) {
    w.start_object().key("loc").start_array();
    for (const auto& part : e.loc) {
      if (all_digits(part) && part.size() < 10)
        w.integer(std::stoll(part));
      else
        w.string(part);
    }
    w.end_array().field("msg", e.msg).field("type", e.type).end_object();
  }
  w.end_array().end_object();
  return http::Response::json(422, w.take());
}

http::Response validation_error(std::vector<std::string> loc, std::string msg, std::string type) {
  return validation_error(std::vector<FieldError>{{std::move(loc), std::move(msg), std::move(type)}});
}

std::optional<http::Response> refuse_non_json(const http::Request& request) {
  // A form or plain text where JSON is expected: say so, rather than "JSON decode error".
  auto type = request.header("Content-Type");
  if (!type || is_json_media_type(*type)) return std::nullopt;
  return http::Response::error(415, "Unsupported Media Type: the body must be JSON (Content-Type: application/json)");
}

ParsedBody parse_json_body(const http::Request& request, std::size_t max_bytes) {
  ParsedBody out;
  if (auto refused = refuse_non_json(request)) {
    out.error = std::move(refused);
    return out;
  }
  if (request.body.empty()) {
    out.error = validation_error({"body"}, "Field required", "missing");
    return out;
  }
  auto doc = json::parse(request.body,
                         {.max_bytes = max_bytes, .max_depth = 64, .refuse_duplicate_keys = true, .refuse_nul = true});
  if (!doc) {
    if (doc.error().code == Errc::too_large) {
      out.error = http::Response::error(413, doc.error().message);
    } else {
      out.error = validation_error({"body"}, "JSON decode error: " + doc.error().message, "json_invalid");
    }
    return out;
  }
  out.doc = std::move(doc).value();
  return out;
}

ParsedBody parse_body(const http::Request& request, std::size_t max_bytes) {
  ParsedBody out = parse_json_body(request, max_bytes);
  if (!out.error && !out.doc.IsObject())
    out.error = validation_error({"body"}, "Input should be a valid dictionary or object", "dict_type");
  return out;
}

BodyReader::BodyReader(const json::Value& object, std::vector<std::string> base_loc)
    : obj_(object), base_(std::move(base_loc)) {}

std::vector<std::string> BodyReader::loc(std::string_view field) const {
  auto l = base_;
  l.emplace_back(field);
  return l;
}

void BodyReader::add_error(const std::string& field, std::string msg, std::string type) {
  errors_.push_back({loc(field), std::move(msg), std::move(type)});
}

void BodyReader::add_error_at(std::vector<std::string> at, std::string msg, std::string type) {
  auto l = base_;
  l.insert(l.end(), at.begin(), at.end());
  errors_.push_back({std::move(l), std::move(msg), std::move(type)});
}

const json::Value* BodyReader::raw(std::string_view name) const { return json::find(obj_, name); }

bool BodyReader::present(std::string_view name) const { return raw(name) != nullptr; }

bool BodyReader::is_null(std::string_view name) const {
  const auto* v = raw(name);
  return v && v->IsNull();
}

std::optional<std::string> BodyReader::string(std::string_view name, StringRule rule) {
  const auto* v = raw(name);
  if (!v || (v->IsNull() && rule.nullable)) {
    if (!v && rule.required) add_error(std::string(name), "Field required", "missing");
    return std::nullopt;
  }
  if (!v->IsString()) {
    add_error(std::string(name), "Input should be a valid string", "string_type");
    return std::nullopt;
  }
  std::string s(json::view(*v));
  if (auto at = json::find_control(s, "\t\n\r"); at != std::string::npos && !rule.allow_control) {
    add_error(std::string(name),
              "String should not contain control characters (" + json::code_point_name(s[at]) + " at character " +
                  std::to_string(utf8_length(std::string_view(s).substr(0, at)) + 1) + ")",
              "string_pattern_mismatch");
    return std::nullopt;
  }
  auto len = utf8_length(s);
  if (len < rule.min) {
    add_error(std::string(name),
              "String should have at least " + std::to_string(rule.min) + " character" + (rule.min == 1 ? "" : "s"),
              "string_too_short");
    return std::nullopt;
  }
  if (len > rule.max) {
    add_error(std::string(name), "String should have at most " + std::to_string(rule.max) + " characters",
              "string_too_long");
    return std::nullopt;
  }
  return s;
}

std::optional<std::int64_t> BodyReader::integer(std::string_view name, IntRule rule) {
  const auto* v = raw(name);
  if (!v || (v->IsNull() && rule.nullable)) {
    if (!v && rule.required) add_error(std::string(name), "Field required", "missing");
    return std::nullopt;
  }
  if (!v->IsInt64()) {
    add_error(std::string(name), "Input should be a valid integer", "int_type");
    return std::nullopt;
  }
  auto n = v->GetInt64();
  if (n < rule.min) {
    add_error(std::string(name), "Input should be greater than or equal to " + std::to_string(rule.min),
              "greater_than_equal");
    return std::nullopt;
  }
  if (n > rule.max) {
    add_error(std::string(name), "Input should be less than or equal to " + std::to_string(rule.max),
              "less_than_equal");
    return std::nullopt;
  }
  return n;
}

std::optional<double> BodyReader::number(std::string_view name, NumberRule rule) {
  const auto* v = raw(name);
  if (!v || (v->IsNull() && rule.nullable)) {
    if (!v && rule.required) add_error(std::string(name), "Field required", "missing");
    return std::nullopt;
  }
  if (!v->IsNumber()) {
    add_error(std::string(name), "Input should be a valid number", "float_type");
    return std::nullopt;
  }
  double d = v->GetDouble();
  if (d < rule.min || d > rule.max) {
    add_error(std::string(name),
              "Input should be between " + std::to_string(rule.min) + " and " + std::to_string(rule.max),
              "value_error");
    return std::nullopt;
  }
  return d;
}

std::optional<bool> BodyReader::boolean(std::string_view name, bool required) {
  const auto* v = raw(name);
  if (!v) {
    if (required) add_error(std::string(name), "Field required", "missing");
    return std::nullopt;
  }
  if (!v->IsBool()) {
    add_error(std::string(name), "Input should be a valid boolean", "bool_type");
    return std::nullopt;
  }
  return v->GetBool();
}

std::optional<std::string> BodyReader::container_json(std::string_view name, bool required, bool want_object) {
  const auto* v = raw(name);
  if (!v) {
    if (required) add_error(std::string(name), "Field required", "missing");
    return std::nullopt;
  }
  if (want_object ? !v->IsObject() : !v->IsArray()) {
    add_error(std::string(name), want_object ? "Input should be a valid dictionary" : "Input should be a valid list",
              want_object ? "dict_type" : "list_type");
    return std::nullopt;
  }
  return json::to_string(*v);
}

std::optional<std::string> BodyReader::object_json(std::string_view name, bool required) {
  return container_json(name, required, true);
}

std::optional<std::string> BodyReader::array_json(std::string_view name, bool required) {
  return container_json(name, required, false);
}

std::optional<std::string> BodyReader::choice(std::string_view name, const std::vector<std::string>& allowed,
                                              bool required) {
  auto s = string(name, {.required = required});
  if (!s) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
    std::string list;
    for (size_t i = 0; i < allowed.size(); ++i) {
      list += (i == 0 ? "" : (i + 1 == allowed.size() ? " or " : ", ")) + ("'" + allowed[i] + "'");
    }
    add_error(std::string(name), "Input should be " + list, "enum");
    return std::nullopt;
  }
  return s;
}

std::optional<std::vector<std::string>> BodyReader::string_list(std::string_view name, bool required) {
  const auto* v = raw(name);
  if (!v) {
    if (required) add_error(std::string(name), "Field required", "missing");
    return std::nullopt;
  }
  if (!v->IsArray()) {
    add_error(std::string(name), "Input should be a valid list", "list_type");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.IsString()) {
      add_error_at({std::string(name), std::to_string(i)}, "Input should be a valid string", "string_type");
      return std::nullopt;
    }
    out.emplace_back(json::view(item));
  }
  return out;
}

void BodyReader::forbid_unknown(const std::vector<std::string>& known) {
  if (!obj_.IsObject()) return;
  for (auto it = obj_.MemberBegin(); it != obj_.MemberEnd(); ++it) {
    std::string key(json::view(it->name));
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      add_error(key, "Extra inputs are not permitted", "extra_forbidden");
    }
  }
}

}  // namespace dm::api
