#include "dm/json/json.hpp"

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

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

// Forwards RapidJSON's SAX events to the document being built, and
// - stops the parse as soon as objects and arrays nest deeper than the limit: one pass over
//   the text, and a hostile document never reaches code that recurses on depth;
// - drops the values of the top-level members named in `skip` (they are still lexed, so
//   the text stays fully checked).
class Builder {
 public:
  Builder(Document& doc, const Limits& limits) : doc_(doc), max_(limits.max_depth), skip_(limits.skip_members) {}
  bool too_deep() const { return too_deep_; }

  bool Null() { return scalar() || doc_.Null(); }
  bool Bool(bool b) { return scalar() || doc_.Bool(b); }
  bool Int(int i) { return scalar() || doc_.Int(i); }
  bool Uint(unsigned u) { return scalar() || doc_.Uint(u); }
  bool Int64(std::int64_t i) { return scalar() || doc_.Int64(i); }
  bool Uint64(std::uint64_t u) { return scalar() || doc_.Uint64(u); }
  bool Double(double d) { return scalar() || doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return scalar() || doc_.RawNumber(s, n, copy); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return scalar() || doc_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    if (skipping_) return true;
    if (depth_ == 1 && !skip_.empty() && skipped(std::string_view(s, n))) {
      skipping_ = true;
      ++skipped_members_;
      return true;
    }
    return doc_.Key(s, n, copy);
  }
  bool StartObject() { return enter() && (skipping_ || doc_.StartObject()); }
  bool StartArray() { return enter() && (skipping_ || doc_.StartArray()); }
  bool EndObject(rapidjson::SizeType n) {
    if (leave()) return true;
    // The reader counted the dropped members of the top-level object too.
    return doc_.EndObject(depth_ == 0 ? n - skipped_members_ : n);
  }
  bool EndArray(rapidjson::SizeType n) { return leave() || doc_.EndArray(n); }

 private:
  bool skipped(std::string_view key) const {
    for (auto k : skip_)
      if (k == key) return true;
    return false;
  }
  // A scalar inside a dropped value: true means "handled, do not build".
  bool scalar() {
    if (!skipping_) return false;
    if (depth_ == 1) skipping_ = false;  // the dropped value was this scalar
    return true;
  }
  bool enter() {
    if (++depth_ <= max_) return true;
    too_deep_ = true;
    return false;
  }
  // Closes an object or array; true when it belonged to a dropped value.
  bool leave() {
    --depth_;
    if (!skipping_) return false;
    if (depth_ == 1) skipping_ = false;  // the dropped value ends here
    return true;
  }
  Document& doc_;
  int max_, depth_ = 0;
  std::span<const std::string_view> skip_;
  bool too_deep_ = false, skipping_ = false;
  rapidjson::SizeType skipped_members_ = 0;
};

}  // namespace

Result<Document> parse(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_bytes) {
    return Error(Errc::too_large, "JSON body of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                                      std::to_string(limits.max_bytes) + " bytes");
  }
  Document doc;
  rapidjson::Reader reader;
  bool too_deep = false;
  // Iterative: the parser itself never recurses, whatever the input.
  auto generate = [&](Document& d) {
    Builder handler(d, limits);
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
    bool ok = !reader.Parse<rapidjson::kParseIterativeFlag>(is, handler).IsError();
    too_deep = handler.too_deep();
    return ok;
  };
  doc.Populate(generate);
  if (too_deep) {
    return Error(Errc::invalid_argument, "JSON nesting deeper than " + std::to_string(limits.max_depth) + " levels");
  }
  if (reader.HasParseError()) {
    return Error(Errc::invalid_argument, std::string("malformed JSON at offset ") +
                                             std::to_string(reader.GetErrorOffset()) + ": " +
                                             rapidjson::GetParseError_En(reader.GetParseErrorCode()));
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
