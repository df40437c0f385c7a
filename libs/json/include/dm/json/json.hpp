#pragma once
// JSON on RapidJSON: parsing with size and depth limits, typed accessors that return
// errors naming the field, and a small writer. RapidJSON is header-only C++, so its
// types appear here on purpose: copying a DOM into our own types would cost more.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "dm/core/result.hpp"

namespace dm::json {

using Value = rapidjson::Value;
using Document = rapidjson::Document;

// Text is always checked to be UTF-8, and a \u escape of a lone UTF-16 surrogate is refused:
// an invalid byte sequence would reach PostgreSQL (text, json, jsonb refuse it) or V8, and the
// reader already refuses a lone high surrogate, so every document holds only valid UTF-8.
// The two refusals below are for text from outside (webhooks, REST bodies); messages between
// our own services keep the defaults.
struct Limits {
  std::size_t max_bytes = 1 << 20;  // 1 MiB
  int max_depth = 64;               // nesting of objects and arrays
  // Members of the top-level object left out of the document: still checked as JSON, but
  // not built, for readers that never look at a large part of a message.
  std::span<const std::string_view> skip_members = {};
  // An object naming one key twice: readers would silently see one of the values (RapidJSON
  // finds the first, others the last), so the sender's meaning is ambiguous.
  bool refuse_duplicate_keys = false;
  // A string or key holding U+0000 (\u0000): PostgreSQL's text and jsonb cannot store it.
  bool refuse_nul = false;
};

// Errors: too_large (over max_bytes); invalid_argument: syntax or invalid UTF-8 (with the
// offset), too deep, and the refusals above (naming the member path, e.g. 'a.b[2].c', and
// the offset just after the offending key or string).
Result<Document> parse(std::string_view text, const Limits& limits = {});

// Where `s` holds a control character, C0 (below U+0020) or DEL, other than those in
// `allowed`; npos when none. Names, ids and subjects must not carry them.
std::size_t find_control(std::string_view s, std::string_view allowed = {});
// "U+0007": how messages name a (control) character.
std::string code_point_name(char c);

const Value* find(const Value& object, std::string_view key);

// Typed accessors. `key` missing → invalid_argument "field 'key' is required";
// wrong type → invalid_argument "field 'key' must be <type>".
Result<std::string_view> get_string(const Value& object, std::string_view key);
Result<std::int64_t> get_int(const Value& object, std::string_view key);
Result<double> get_number(const Value& object, std::string_view key);
Result<bool> get_bool(const Value& object, std::string_view key);
Result<const Value*> get_object(const Value& object, std::string_view key);
Result<const Value*> get_array(const Value& object, std::string_view key);

// Optional variants: missing or null → nullopt; present with the wrong type → error.
Result<std::optional<std::string_view>> opt_string(const Value& object, std::string_view key);
Result<std::optional<std::int64_t>> opt_int(const Value& object, std::string_view key);
Result<std::optional<double>> opt_number(const Value& object, std::string_view key);
Result<std::optional<bool>> opt_bool(const Value& object, std::string_view key);

inline std::string_view view(const Value& v) { return {v.GetString(), v.GetStringLength()}; }
const char* type_name(const Value& v);

// Serialises any value compactly.
std::string to_string(const Value& v);

// Compact writer. Methods return *this so calls chain:
//   Writer w; w.start_object().key("id").string("x").end_object(); w.take();
class Writer {
 public:
  Writer();
  Writer& start_object() {
    w_.StartObject();
    return *this;
  }
  Writer& end_object() {
    w_.EndObject();
    return *this;
  }
  Writer& start_array() {
    w_.StartArray();
    return *this;
  }
  Writer& end_array() {
    w_.EndArray();
    return *this;
  }
  Writer& key(std::string_view k) {
    w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    return *this;
  }
  Writer& string(std::string_view s) {
    w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return *this;
  }
  Writer& integer(std::int64_t n) {
    w_.Int64(n);
    return *this;
  }
  Writer& number(double d) {
    w_.Double(d);
    return *this;
  }
  Writer& boolean(bool b) {
    w_.Bool(b);
    return *this;
  }
  Writer& null() {
    w_.Null();
    return *this;
  }
  // Inserts an already-serialised JSON value (trusted: produced by us or validated).
  Writer& raw(std::string_view json);
  Writer& value(const Value& v);
  // Field helpers.
  Writer& field(std::string_view k, std::string_view s) { return key(k).string(s); }
  Writer& field(std::string_view k, const char* s) { return key(k).string(s); }
  Writer& field(std::string_view k, const std::string& s) { return key(k).string(s); }
  Writer& field(std::string_view k, std::int64_t n) { return key(k).integer(n); }
  Writer& field(std::string_view k, int n) { return key(k).integer(n); }
  Writer& field(std::string_view k, double d) { return key(k).number(d); }
  Writer& field(std::string_view k, bool b) { return key(k).boolean(b); }
  // The value, or null when absent.
  Writer& field_or_null(std::string_view k, const std::optional<std::string>& s) {
    key(k);
    return s ? string(*s) : null();
  }
  Writer& field_or_null(std::string_view k, const std::optional<std::string_view>& s) {
    key(k);
    return s ? string(*s) : null();
  }
  Writer& field_or_null(std::string_view k, const std::optional<std::int64_t>& n) {
    key(k);
    return n ? integer(*n) : null();
  }
  Writer& field_or_null(std::string_view k, const std::optional<double>& d) {
    key(k);
    return d ? number(*d) : null();
  }
  std::string take();
  std::string_view view() const { return {buf_.GetString(), buf_.GetSize()}; }

 private:
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

// {"detail": "<message>"} — FastAPI's error shape, used by every HTTP error answer.
std::string detail(std::string_view message);

}  // namespace dm::json
