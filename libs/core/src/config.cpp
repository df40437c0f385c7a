#include "dm/core/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "dm/core/strings.hpp"

namespace dm {
namespace {

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

}  // namespace

Config::Config(std::string scope) : scope_(std::move(scope)) {}

Result<void> Config::load_env_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ok();  // optional by design
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error(Errc::invalid_argument, path + ":" + std::to_string(number) + ": expected KEY=VALUE");
    }
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else if (auto hash = value.find(" #"); hash != std::string::npos) {
      value = trim(value.substr(0, hash));  // trailing comment on an unquoted value
    }
    file_values_[key] = value;
  }
  return ok();
}

void Config::set(const std::string& key, std::string value) { overrides_[key] = std::move(value); }

std::optional<std::string> Config::raw(const std::string& key) const {
  if (auto it = overrides_.find(key); it != overrides_.end()) return it->second;
  if (const char* v = std::getenv(key.c_str())) return std::string(v);
  if (auto it = file_values_.find(key); it != file_values_.end()) return it->second;
  return std::nullopt;
}

std::string Config::scoped_key(const std::string& key) const {
  if (!scope_.empty()) {
    std::string k = scope_ + "_" + key;
    if (raw(k)) return k;
  }
  return key;
}

std::string Config::str(const std::string& key, const std::string& fallback) {
  auto v = raw(scoped_key(key));
  return v && !v->empty() ? *v : fallback;
}

std::string Config::required(const std::string& key) {
  auto k = scoped_key(key);
  auto v = raw(k);
  if (!v || v->empty()) {
    add_problem(k + " is required" + (scope_.empty() ? "" : " (or " + scope_ + "_" + key + ")"));
    return {};
  }
  return *v;
}

std::int64_t Config::integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  auto k = scoped_key(key);
  auto v = raw(k);
  if (!v || v->empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (errno != 0 || end == v->c_str() || *end != '\0') {
    add_problem(k + " must be an integer, got '" + *v + "'");
    return fallback;
  }
  if (n < min || n > max) {
    add_problem(k + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + *v);
    return fallback;
  }
  return n;
}

bool Config::boolean(const std::string& key, bool fallback) {
  auto k = scoped_key(key);
  auto v = raw(k);
  if (!v || v->empty()) return fallback;
  auto s = lower(*v);
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  add_problem(k + " must be true or false, got '" + *v + "'");
  return fallback;
}

std::chrono::milliseconds Config::millis(const std::string& key, std::chrono::milliseconds fallback) {
  auto k = scoped_key(key);
  auto v = raw(k);
  if (!v || v->empty()) return fallback;
  auto d = parse_duration(*v);
  if (!d) {
    add_problem(k + ": " + d.error().message);
    return fallback;
  }
  return *d;
}

std::chrono::milliseconds Config::millis(const std::string& key, std::chrono::milliseconds fallback,
                                         std::chrono::milliseconds min, std::chrono::milliseconds max) {
  auto d = millis(key, fallback);
  if (d >= min && d <= max) return d;
  add_problem(scoped_key(key) + " must be between " + std::to_string(min.count()) + "ms and " +
              std::to_string(max.count()) + "ms, got " + raw(scoped_key(key)).value_or(""));
  return fallback;
}

std::string Config::one_of(const std::string& key, const std::string& fallback,
                           const std::vector<std::string>& allowed) {
  auto k = scoped_key(key);
  auto v = raw(k);
  if (!v || v->empty()) return fallback;
  auto s = lower(*v);
  if (std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return s;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  add_problem(k + " must be one of " + list + ", got '" + *v + "'");
  return fallback;
}

Result<void> Config::validate() const {
  if (problems_.empty()) return ok();
  std::string msg = "invalid configuration:";
  for (const auto& p : problems_) msg += "\n  - " + p;
  return Error(Errc::invalid_argument, msg);
}

Result<std::chrono::milliseconds> parse_duration(const std::string& text) {
  std::string t = trim(text);
  size_t i = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  if (i == 0 || i > 12)
    return Error(Errc::invalid_argument, "expected a duration like 500ms, 30s, 5m, 2h; got '" + text + "'");
  long long n = std::stoll(t.substr(0, i));
  std::string unit = lower(t.substr(i));
  if (unit.empty() || unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "s") return std::chrono::milliseconds(n * 1000);
  if (unit == "m") return std::chrono::milliseconds(n * 60'000);
  if (unit == "h") return std::chrono::milliseconds(n * 3'600'000);
  if (unit == "d") return std::chrono::milliseconds(n * 86'400'000);
  return Error(Errc::invalid_argument, "unknown duration unit '" + unit + "' in '" + text + "'");
}

}  // namespace dm
