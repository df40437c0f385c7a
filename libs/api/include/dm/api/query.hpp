#pragma once
// Query-string handling shared by list endpoints: skip/limit paging (FastAPI defaults:
// skip 0, limit 100, at most 1000), sort fields from an allow-list, typed filters.
#include <optional>
#include <string>
#include <vector>

#include "dm/api/body.hpp"
#include "dm/core/strings.hpp"
#include "dm/http/message.hpp"

namespace dm::api {

struct Paging {
  std::int64_t skip = 0;
  std::int64_t limit = 100;
};

struct Sort {
  std::string column;  // from the allow-list, safe to put in SQL
  bool descending = false;
};

// Reads query parameters, collecting FastAPI-style errors (loc ["query", name]).
class QueryReader {
 public:
  explicit QueryReader(const http::Request& request) : req_(request) {}
  Paging paging(std::int64_t max_limit = 1000);
  // `sort=name` or `sort=-created_at`; `allowed` maps API names to SQL columns (same name here).
  Sort sort(const std::vector<std::string>& allowed, Sort fallback);
  std::optional<std::string> string(const std::string& name, std::size_t max_len = 256);
  std::optional<bool> boolean(const std::string& name);
  std::optional<std::int64_t> integer(const std::string& name, std::int64_t min, std::int64_t max);
  std::optional<std::string> choice(const std::string& name, const std::vector<std::string>& allowed);
  // An RFC 3339 time, returned as given (PostgreSQL parses it) after validation.
  std::optional<std::string> time(const std::string& name);

  bool ok() const { return errors_.empty(); }
  http::Response response() const { return validation_error(errors_); }

 private:
  const http::Request& req_;
  std::vector<FieldError> errors_;
};

// Ids are UUIDs everywhere (dm/core/strings.hpp): anything else cannot name a resource.
using ::dm::is_uuid;

}  // namespace dm::api
