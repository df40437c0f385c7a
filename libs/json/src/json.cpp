#include "dm/json/json.hpp"

#include <rapidjson/error/en.h>

namespace dm::json {
namespace {

Error missing(std::string_view key) {
  return Error(Errc::invalid_argument, "field '" + std::string(key) + "' is required");
}
Error wrong_type(std::string_view key, const char* want) {
  return Error(Errc::invalid_argument, "field '" + std::string(key) + "' must be " + want);
}
Result<const Value*> member(const Value& object, std::string_view key) {
  if (!object.IsObject()) return Error(Errc::invalid_argument, "expected a JSON object");
  const Value* v = find(object, key);
  if (!v) return missing(key);
  return v;
}

}  // namespace

int nesting_depth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[')
      max_depth = std::max(max_depth, ++depth);
    else if (c == '}' || c == ']')
      --depth;
  }
  return max_depth;
}

Result<Document> parse(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_bytes) {
    return Error(Errc::too_large, "JSON body of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                                      std::to_string(limits.max_bytes) + " bytes");
  }
  // Checked before parsing so a hostile document never reaches a deep recursion.
  if (nesting_depth(text) > limits.max_depth) {
    return Error(Errc::invalid_argument, "JSON nesting deeper than " + std::to_string(limits.max_depth) + " levels");
  }
  Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Error(Errc::invalid_argument, std::string("malformed JSON at offset ") +
                                             std::to_string(doc.GetErrorOffset()) + ": " +
                                             rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return doc;
}

const Value* find(const Value& object, std::string_view key) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

Result<std::string_view> get_string(const Value& object, std::string_view key) {
  DM_ASSIGN_OR_RETURN(const Value* v, member(object, key));
  if (!v->IsString()) return wrong_type(key, "a string");
  return view(*v);
}

Result<std::int64_t> get_int(const Value& object, std::string_view key) {
  DM_ASSIGN_OR_RETURN(const Value* v, member(object, key));
  if (!v->IsInt64()) return wrong_type(key, "an integer");
  return v->GetInt64();
}

Result<double> get_number(const Value& object, std::string_view key) {
  DM_ASSIGN_OR_RETURN(const Value* v, member(object, key));
  if (!v->IsNumber()) return wrong_type(key, "a number");
  return v->GetDouble();
}

Result<bool> get_bool(const Value& object, std::string_view key) {
  DM_ASSIGN_OR_RETURN(const Value* v, member(object, key));
  if (!v->IsBool()) return wrong_type(key, "a boolean");
  return v->GetBool();
}

Result<const Value*> get_object(const Value& object, std::string_view key) {
  DM_ASSIGN_OR_RETURN(const Value* v, member(object, key));
  if (!v->IsObject()) return wrong_type(key, "an object");
  return v;
}

Result<const Value*> get_array(const Value& object, std::string_view key) {
  DM_ASSIGN_OR_RETURN(const Value* v, member(object, key));
  if (!v->IsArray()) return wrong_type(key, "an array");
  return v;
}

template <typename T, typename Get>
Result<std::optional<T>> optional_of(const Value& object, std::string_view key, Get get) {
  const Value* v = find(object, key);
  if (!v || v->IsNull()) return std::optional<T>{};
  DM_ASSIGN_OR_RETURN(T value, get(object, key));
  return std::optional<T>(value);
}

Result<std::optional<std::string_view>> opt_string(const Value& o, std::string_view k) {
  return optional_of<std::string_view>(o, k, get_string);
}
Result<std::optional<std::int64_t>> opt_int(const Value& o, std::string_view k) {
  return optional_of<std::int64_t>(o, k, get_int);
}
Result<std::optional<double>> opt_number(const Value& o, std::string_view k) {
  return optional_of<double>(o, k, get_number);
}
Result<std::optional<bool>> opt_bool(const Value& o, std::string_view k) { return optional_of<bool>(o, k, get_bool); }

const char* type_name(const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return v.IsInt64() ? "integer" : "number";
  }
  return "unknown";
}

std::string to_string(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

Writer::Writer() : w_(buf_) {}

Writer& Writer::raw(std::string_view json) {
  w_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  return *this;
}

Writer& Writer::value(const Value& v) {
  v.Accept(w_);
  return *this;
}

std::string Writer::take() {
  std::string out(buf_.GetString(), buf_.GetSize());
  buf_.Clear();
  w_.Reset(buf_);
  return out;
}

std::string detail(std::string_view message) {
  Writer w;
  w.start_object().field("detail", message).end_object();
  return w.take();
}

}  // namespace dm::json
