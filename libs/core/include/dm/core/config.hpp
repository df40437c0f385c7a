#pragma once
// Configuration from environment variables, with an optional .env file underneath
// (real environment variables win). Every service validates its configuration at
// start-up and reports every problem at once, then refuses to start.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dm/core/result.hpp"

namespace dm {

class Config {
 public:
  // `scope` is the service's key prefix, e.g. "INGEST": scoped keys are looked up as
  // INGEST_<KEY> first and then <KEY>, so one .env can serve all services.
  explicit Config(std::string scope = {});

  // Reads KEY=VALUE lines (comments, blank lines, `export`, single or double quotes).
  // A missing file is not an error. Keys already in the environment are not replaced.
  Result<void> load_env_file(const std::string& path);
  // Sets a value directly (tests).
  void set(const std::string& key, std::string value);

  std::optional<std::string> raw(const std::string& key) const;

  std::string str(const std::string& key, const std::string& fallback);
  std::string required(const std::string& key);
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  bool boolean(const std::string& key, bool fallback);
  std::chrono::milliseconds millis(const std::string& key, std::chrono::milliseconds fallback);
  // The same, within [min, max]; outside it, a problem is recorded and the fallback returned.
  std::chrono::milliseconds millis(const std::string& key, std::chrono::milliseconds fallback,
                                   std::chrono::milliseconds min, std::chrono::milliseconds max);
  // A choice among fixed words (e.g. LOG_LEVEL).
  std::string one_of(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed);
  // The same lookups with the service scope: <SCOPE>_<KEY>, then <KEY>.
  std::string scoped_key(const std::string& key) const;

  // Records a problem found by the caller's own validation.
  void add_problem(std::string problem) { problems_.push_back(std::move(problem)); }
  const std::vector<std::string>& problems() const { return problems_; }
  // Ok when no problem was recorded; otherwise one invalid_argument listing them all.
  Result<void> validate() const;

 private:
  std::string scope_;
  std::map<std::string, std::string> file_values_;
  std::map<std::string, std::string> overrides_;
  std::vector<std::string> problems_;
};

// Parses "30s", "500ms", "5m", "2h", "1500" (ms) into milliseconds.
Result<std::chrono::milliseconds> parse_duration(const std::string& text);

}  // namespace dm
