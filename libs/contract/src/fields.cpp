#include "fields.hpp"

#include "dm/contract/subjects.hpp"
#include "dm/core/time.hpp"

namespace dm::contract::detail {
namespace {

bool any_text(std::string_view) { return true; }
bool non_empty(std::string_view s) { return !s.empty(); }
bool timestamp(std::string_view s) { return parse_rfc3339(s).ok(); }

// The schema's ^[A-Za-z0-9+/]*={0,2}$ (the characters; ingest re-encodes what it decodes).
bool base64_text(std::string_view s) {
  auto end = s.find_last_not_of('=');
  std::size_t data = end == std::string_view::npos ? 0 : end + 1;
  if (s.size() - data > 2) return false;
  for (char c : s.substr(0, data)) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const Rule kText{any_text, "a string"};
const Rule kNonEmpty{non_empty, "a non-empty string"};
const Rule kToken{subject::is_token, "an id: 1 to 128 letters, digits, '_' or '-'"};
const Rule kDevEui{subject::is_dev_eui, "a DevEUI: 16 lower-case hexadecimal digits"};
const Rule kTimestamp{timestamp, "an RFC 3339 time"};
const Rule kBase64{base64_text, "standard base64"};

std::string Fields::path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

Error Fields::error(std::string_view key, std::string_view problem) const {
  return Error(Errc::invalid_argument, "field '" + path(key) + "' " + std::string(problem));
}

std::string Fields::one_of(std::span<const std::string_view> words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? " or " : ", ";
    out += words[i];
  }
  return out;
}

Result<const json::Value*> Fields::get(std::string_view key, Need need) const {
  const json::Value* v = json::find(object_, key);
  if (!v) {
    if (need == Need::optional || need == Need::optional_nullable) return nullptr;
    return error(key, "is required");
  }
  if (v->IsNull()) {
    if (need == Need::nullable || need == Need::optional_nullable) return nullptr;
    return error(key, "must not be null");
  }
  return v;
}

Result<std::string_view> Fields::text(std::string_view key, const Rule& rule) const {
  DM_ASSIGN_OR_RETURN(auto s, text(key, Need::required, rule));
  return *s;
}

Result<std::optional<std::string_view>> Fields::text(std::string_view key, Need need, const Rule& rule) const {
  DM_ASSIGN_OR_RETURN(const json::Value* v, get(key, need));
  if (!v) return std::optional<std::string_view>();
  if (!v->IsString()) return error(key, "must be a string");
  if (!rule.ok(json::view(*v))) return error(key, std::string("must be ") + rule.what);
  return std::optional<std::string_view>(json::view(*v));
}

Result<std::int64_t> Fields::integer(std::string_view key, std::int64_t min, std::int64_t max) const {
  DM_ASSIGN_OR_RETURN(auto n, integer(key, Need::required, min, max));
  return *n;
}

Result<std::optional<std::int64_t>> Fields::integer(std::string_view key, Need need, std::int64_t min,
                                                    std::int64_t max) const {
  DM_ASSIGN_OR_RETURN(const json::Value* v, get(key, need));
  if (!v) return std::optional<std::int64_t>();
  std::string range = max == kNoMax ? "an integer of at least " + std::to_string(min)
                                    : "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!v->IsInt64() || v->GetInt64() < min || v->GetInt64() > max) return error(key, "must be " + range);
  return std::optional<std::int64_t>(v->GetInt64());
}

Result<double> Fields::number(std::string_view key, bool non_negative) const {
  DM_ASSIGN_OR_RETURN(auto n, number(key, Need::required, non_negative));
  return *n;
}

Result<std::optional<double>> Fields::number(std::string_view key, Need need, bool non_negative) const {
  DM_ASSIGN_OR_RETURN(const json::Value* v, get(key, need));
  if (!v) return std::optional<double>();
  if (!v->IsNumber()) return error(key, "must be a number");
  if (non_negative && v->GetDouble() < 0) return error(key, "must not be negative");
  return std::optional<double>(v->GetDouble());
}

Result<std::optional<bool>> Fields::boolean(std::string_view key, Need need) const {
  DM_ASSIGN_OR_RETURN(const json::Value* v, get(key, need));
  if (!v) return std::optional<bool>();
  if (!v->IsBool()) return error(key, "must be a boolean");
  return std::optional<bool>(v->GetBool());
}

Result<std::optional<std::string>> Fields::object_text(std::string_view key, Need need) const {
  DM_ASSIGN_OR_RETURN(const json::Value* v, get(key, need));
  if (!v) return std::optional<std::string>();
  if (!v->IsObject()) return error(key, "must be an object");
  return std::optional<std::string>(json::to_string(*v));
}

Result<std::string> Fields::array_text(std::string_view key, Result<void> (*check)(const Fields& element)) const {
  DM_TRY(each(key, check));
  return json::to_string(*json::find(object_, key));
}

Result<std::optional<Fields>> Fields::object(std::string_view key, Need need) const {
  DM_ASSIGN_OR_RETURN(const json::Value* v, get(key, need));
  if (!v) return std::optional<Fields>();
  if (!v->IsObject()) return error(key, "must be an object");
  return std::optional<Fields>(Fields(*v, path(key)));
}

Result<json::Document> parse_object(std::string_view text, const json::Limits& limits, std::string_view what) {
  DM_ASSIGN_OR_RETURN(auto doc, json::parse(text, limits));
  if (!doc.IsObject()) return Error(Errc::invalid_argument, "a " + std::string(what) + " is a JSON object");
  return doc;
}

}  // namespace dm::contract::detail
