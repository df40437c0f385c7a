#include "dm/api/query.hpp"

#include <algorithm>
#include <cctype>

#include "dm/core/strings.hpp"
#include "dm/core/time.hpp"

namespace dm::api {
namespace {

std::optional<std::int64_t> to_int(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t j = i; j < s.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return std::nullopt;
  }
  return std::stoll(s);
}

}  // namespace

Paging QueryReader::paging(std::int64_t max_limit) {
  Paging p;
  if (auto v = integer("skip", 0, INT32_MAX)) p.skip = *v;
  if (auto v = integer("limit", 1, max_limit)) p.limit = *v;
  return p;
}

Sort QueryReader::sort(const std::vector<std::string>& allowed, Sort fallback) {
  auto v = req_.query_param("sort");
  if (!v || v->empty()) return fallback;
  Sort s;
  std::string name = *v;
  if (name[0] == '-') {
    s.descending = true;
    name = name.substr(1);
  } else if (name[0] == '+') {
    name = name.substr(1);
  }
  if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    errors_.push_back({{"query", "sort"}, "Sort by one of: " + list + " (prefix - for descending)", "enum"});
    return fallback;
  }
  s.column = name;
  return s;
}

std::optional<std::string> QueryReader::string(const std::string& name, std::size_t max_len) {
  auto v = req_.query_param(name);
  if (!v) return std::nullopt;
  if (v->size() > max_len) {
    errors_.push_back(
        {{"query", name}, "String should have at most " + std::to_string(max_len) + " characters", "string_too_long"});
    return std::nullopt;
  }
  return v;
}

std::optional<bool> QueryReader::boolean(const std::string& name) {
  auto v = req_.query_param(name);
  if (!v) return std::nullopt;
  std::string s = *v;
  s = lower(s);
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  errors_.push_back({{"query", name}, "Input should be a valid boolean", "bool_parsing"});
  return std::nullopt;
}

std::optional<std::int64_t> QueryReader::integer(const std::string& name, std::int64_t min, std::int64_t max) {
  auto v = req_.query_param(name);
  if (!v) return std::nullopt;
  auto n = to_int(*v);
  if (!n) {
    errors_.push_back(
        {{"query", name}, "Input should be a valid integer, unable to parse string as an integer", "int_parsing"});
    return std::nullopt;
  }
  if (*n < min) {
    errors_.push_back(
        {{"query", name}, "Input should be greater than or equal to " + std::to_string(min), "greater_than_equal"});
    return std::nullopt;
  }
  if (*n > max) {
    errors_.push_back(
        {{"query", name}, "Input should be less than or equal to " + std::to_string(max), "less_than_equal"});
    return std::nullopt;
  }
  return n;
}

std::optional<std::string> QueryReader::choice(const std::string& name, const std::vector<std::string>& allowed) {
  auto v = req_.query_param(name);
  if (!v) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "'" : ", '") + a + "'";
    errors_.push_back({{"query", name}, "Input should be one of " + list, "enum"});
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> QueryReader::time(const std::string& name) {
  auto v = req_.query_param(name);
  if (!v) return std::nullopt;
  if (!parse_rfc3339(*v)) {
    errors_.push_back({{"query", name}, "Input should be a valid datetime (RFC 3339)", "datetime_parsing"});
    return std::nullopt;
  }
  return v;
}

}  // namespace dm::api
