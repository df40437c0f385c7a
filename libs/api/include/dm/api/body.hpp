#pragma once
// Request validation with FastAPI's error shapes, so clients written for the original keep
// working:
//   not JSON         → 415 {"detail":"..."} (a Content-Type other than JSON; none at all is JSON)
//   malformed JSON   → 422 {"detail":[{"loc":["body"],"msg":"JSON decode error: <what, where>","type":"json_invalid"}]}
//                      (also invalid UTF-8, a NUL character in a string or key, a key named twice)
//   field problems   → 422 {"detail":[{"loc":["body","dev_eui"],"msg":"...","type":"..."}, ...]}
//   other errors     → <status> {"detail":"..."}
// A BodyReader collects every problem of a body before answering, as pydantic does.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dm/http/message.hpp"
#include "dm/json/json.hpp"

namespace dm::api {

struct FieldError {
  std::vector<std::string> loc;  // e.g. {"body", "nodes", "3", "id"}; numeric parts are written as numbers
  std::string msg;
  std::string type;  // pydantic v2 names: missing, string_type, int_type, value_error, extra_forbidden, ...
};

// 422 with {"detail": [...]} from a list of field errors.
http::Response validation_error(const std::vector<FieldError>& errors);
http::Response validation_error(std::vector<std::string> loc, std::string msg, std::string type = "value_error");

// Parses a JSON request body (size and depth limited). Errors are ready-made responses:
// 415 when the Content-Type says it is not JSON (application/json, application/*+json and no
// Content-Type at all are JSON, whatever their parameters), 413 over `max_bytes`, 422
// json_invalid (also for invalid UTF-8, NUL characters and duplicate keys: PostgreSQL cannot
// store the first two, and the last is ambiguous), 422 when the body is not an object.
struct ParsedBody {
  json::Document doc;
  std::optional<http::Response> error;
};
ParsedBody parse_body(const http::Request& request, std::size_t max_bytes = 1 << 20);
// The same for a body that may be any JSON value (e.g. a bare list).
ParsedBody parse_json_body(const http::Request& request, std::size_t max_bytes = 1 << 20);
// 415 when the request's Content-Type says its body is not JSON (for handlers that parse the
// body themselves, like the ChirpStack webhook); nullopt when it is JSON or not said.
std::optional<http::Response> refuse_non_json(const http::Request& request);

struct StringRule {
  bool required = false;
  std::size_t min = 0;
  std::size_t max = 1 << 20;
  bool nullable = false;  // explicit null allowed (returned as empty optional with present = true)
  // Control characters other than tab, newline and carriage return (C0, DEL) are refused by
  // default: names and ids reach logs, subjects and other systems. Free text our own services
  // report (an error message quoting a remote answer) may keep them.
  bool allow_control = false;
};
struct IntRule {
  bool required = false;
  std::int64_t min = INT64_MIN;
  std::int64_t max = INT64_MAX;
  bool nullable = false;
};
struct NumberRule {
  bool required = false;
  double min = -1e308;
  double max = 1e308;
  bool nullable = false;
};

// Reads fields of one JSON object, recording a FieldError for every problem. Getters
// return nullopt when the field is absent (or invalid); `present(name)` tells absence
// from explicit null for partial updates.
class BodyReader {
 public:
  BodyReader(const json::Value& object, std::vector<std::string> base_loc = {"body"});

  std::optional<std::string> string(std::string_view name, StringRule rule = {});
  std::optional<std::int64_t> integer(std::string_view name, IntRule rule = {});
  std::optional<double> number(std::string_view name, NumberRule rule = {});
  std::optional<bool> boolean(std::string_view name, bool required = false);
  // Object or array values, serialised compactly (to store as JSONB).
  std::optional<std::string> object_json(std::string_view name, bool required = false);
  std::optional<std::string> array_json(std::string_view name, bool required = false);
  // The raw value (any type), or nullptr when absent.
  const json::Value* raw(std::string_view name) const;
  // One of fixed words.
  std::optional<std::string> choice(std::string_view name, const std::vector<std::string>& allowed,
                                    bool required = false);
  // A list of strings (e.g. ids).
  std::optional<std::vector<std::string>> string_list(std::string_view name, bool required = false);

  bool present(std::string_view name) const;
  bool is_null(std::string_view name) const;
  // Records extra_forbidden for every member not in `known`.
  void forbid_unknown(const std::vector<std::string>& known);
  void add_error(const std::string& field, std::string msg, std::string type = "value_error");
  // Adds an error with an explicit location below the base.
  void add_error_at(std::vector<std::string> loc, std::string msg, std::string type = "value_error");

  bool ok() const { return errors_.empty(); }
  const std::vector<FieldError>& errors() const { return errors_; }
  http::Response response() const { return validation_error(errors_); }

 private:
  std::vector<std::string> loc(std::string_view field) const;
  std::optional<std::string> container_json(std::string_view name, bool required, bool want_object);
  const json::Value& obj_;
  std::vector<std::string> base_;
  std::vector<FieldError> errors_;
};

}  // namespace dm::api
