#include "dm/json/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <unordered_set>
#include <vector>

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

// A key or string as messages show it: control characters as \u escapes, at most 64 bytes
// (cut on a character boundary), so an error message is itself clean, short text.
std::string printable(std::string_view s) {
  std::size_t cut = s.size();
  if (cut > 64) {
    cut = 64;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out;
  for (char c : s.substr(0, cut)) {
    if (find_control(std::string_view(&c, 1)) == 0)
      out += "\\u" + code_point_name(c).substr(2);
    else
      out += c;
  }
  if (cut < s.size()) out += "...";
  return out;
}

// A \u escape of a lone low surrogate (U+DC00..U+DFFF) is the one way invalid UTF-8 gets
// past the reader: it encodes the code point as ED B0..BF xx. Raw bytes were validated, so
// ED followed by A0..BF can only come from such an escape.
bool has_lone_surrogate(std::string_view s) {
  for (auto at = s.find('\xED'); at != std::string_view::npos; at = s.find('\xED', at + 1))
    if (at + 1 < s.size() && static_cast<unsigned char>(s[at + 1]) >= 0xA0) return true;
  return false;
}

// The power of ten of a number literal's first significant digit ("0.05" → -2, "12e4" → 5),
// to tell an underflow from an overflow when a literal is out of a double's range.
long long decimal_exponent(std::string_view n) {
  if (!n.empty() && n[0] == '-') n.remove_prefix(1);
  const auto e = n.find_first_of("eE");
  long long exp = 0;
  if (e != std::string_view::npos) {
    auto digits = n.substr(e + 1);
    const bool negative = !digits.empty() && digits[0] == '-';
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
    for (char c : digits) exp = std::min(exp * 10 + (c - '0'), 1'000'000'000'000LL);  // saturates
    if (negative) exp = -exp;
  }
  const auto mantissa = n.substr(0, e);
  const auto dot = mantissa.find('.');
  const auto whole = mantissa.substr(0, dot);
  const auto fraction = dot == std::string_view::npos ? std::string_view() : mantissa.substr(dot + 1);
  if (auto k = whole.find_first_not_of('0'); k != std::string_view::npos)
    return static_cast<long long>(whole.size() - k - 1) + exp;
  if (auto k = fraction.find_first_not_of('0'); k != std::string_view::npos) return exp - static_cast<long long>(k + 1);
  return 0;  // zero
}

// Forwards RapidJSON's SAX events to the document being built, and
// - stops the parse as soon as objects and arrays nest deeper than the limit: one pass over
//   the text, and a hostile document never reaches code that recurses on depth;
// - drops the values of the top-level members named in `skip` (they are still lexed, so
//   the text stays fully checked);
// - refuses lone surrogate escapes, and on request NUL characters and duplicate keys. For
//   those it keeps the path to the current value, to say where: only when a refusal is
//   asked for, so messages between our own services pay nothing for it.
class Builder {
 public:
  Builder(Document& doc, const Limits& limits)
      : doc_(doc),
        max_(limits.max_depth),
        skip_(limits.skip_members),
        refuse_nul_(limits.refuse_nul),
        refuse_duplicates_(limits.refuse_duplicate_keys),
        track_(refuse_nul_ || refuse_duplicates_) {}
  // Why the handler stopped the parse; empty when it did not.
  const std::string& failure() const { return failure_; }
  // What the reader is lexing when the text itself is wrong ("the string at 'a.b'"); empty
  // when the path is not kept.
  std::string lexing() const {
    if (!track_) return {};
    return open_ > 0 && top().object && !top().has_key ? "a key of " + object_at() : value_at();
  }

  // RapidJSON's handler interface names these; NOLINTNEXTLINE is not enough for a block.
  // NOLINTBEGIN(readability-identifier-naming)
  bool Null() {
    return scalar([&] { return doc_.Null(); });
  }
  bool Bool(bool b) {
    return scalar([&] { return doc_.Bool(b); });
  }
  bool Int(int i) {
    return scalar([&] { return doc_.Int(i); });
  }
  bool Uint(unsigned u) {
    return scalar([&] { return doc_.Uint(u); });
  }
  bool Int64(std::int64_t i) {
    return scalar([&] { return doc_.Int64(i); });
  }
  bool Uint64(std::uint64_t u) {
    return scalar([&] { return doc_.Uint64(u); });
  }
  bool Double(double d) {
    return scalar([&] { return doc_.Double(d); });
  }
  // Numbers arrive as text (kParseNumbersAsStringsFlag; the reader checked their syntax) and
  // are typed as RapidJSON types them: an integer that fits 64 bits exactly, anything else as
  // the nearest double (std::from_chars), as V8, Python and PostgreSQL read them. RapidJSON
  // 1.1's own conversion was one unit off for long literals, so a number written back (our
  // messages) differed from the one sent; its full-precision mode returns garbage near the
  // top of the range (5.675021e308 read as -1.3e-308); and a literal beyond the range read as
  // infinity, which no writer can write back (all found by fuzzing).
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    std::string_view text(s, n);
    const char* end = s + n;
    if (text.find_first_of(".eE") == std::string_view::npos) {
      std::int64_t i = 0;
      std::uint64_t u = 0;
      if (text[0] == '-' && std::from_chars(s, end, i).ec == std::errc()) return scalar([&] { return doc_.Int64(i); });
      if (text[0] != '-' && std::from_chars(s, end, u).ec == std::errc()) return scalar([&] { return doc_.Uint64(u); });
    }
    double d = 0;
    if (std::from_chars(s, end, d).ec == std::errc::result_out_of_range) {
      if (decimal_exponent(text) >= 0)
        return fail("a number out of the range of a double" + (track_ ? " in " + value_at() : ""));
      d = text[0] == '-' ? -0.0 : 0.0;  // below the smallest double: zero, as every reader has it
    }
    return scalar([&] { return doc_.Double(d); });
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    if (!clean(std::string_view(s, n), false)) return false;
    return scalar([&] { return doc_.String(s, n, copy); });
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    std::string_view key(s, n);
    if (!clean(key, true) || !note_key(key)) return false;
    if (skipping_) return true;
    if (depth_ == 1 && !skip_.empty() && skipped(key)) {
      skipping_ = true;
      ++skipped_members_;
      return true;
    }
    return doc_.Key(s, n, copy);
  }
  bool StartObject() { return enter(true) && (skipping_ || doc_.StartObject()); }
  bool StartArray() { return enter(false) && (skipping_ || doc_.StartArray()); }
  bool EndObject(rapidjson::SizeType n) {
    // The reader counted the dropped members of the top-level object too.
    bool ok = leave() || doc_.EndObject(depth_ == 0 ? n - skipped_members_ : n);
    done();
    return ok;
  }
  bool EndArray(rapidjson::SizeType n) {
    bool ok = leave() || doc_.EndArray(n);
    done();
    return ok;
  }
  // NOLINTEND(readability-identifier-naming)

 private:
  // One open object or array, kept only when tracking. Frames are reused as the parse goes
  // up and down (`open_` of them are open), and a few keys are scanned rather than hashed: a
  // webhook has a dozen objects and sixty keys, each once allocated a set of its own.
  struct Frame {
    bool object = false;
    bool has_key = false;                  // object: a key was read, its value is pending or open
    std::size_t index = 0;                 // array: the element being read
    std::string key;                       // object: the current member
    std::vector<std::string> keys;         // object, refusing duplicates: the first kSmall keys, scanned
    std::unordered_set<std::string> many;  // all the keys, once there are more than kSmall
  };
  static constexpr std::size_t kSmall = 32;
  Frame& top() { return frames_[open_ - 1]; }
  const Frame& top() const { return frames_[open_ - 1]; }
  // False when `key` was seen before in the frame's object.
  static bool first_time(Frame& f, std::string_view key) {
    if (f.many.empty()) {
      for (const auto& k : f.keys)
        if (k == key) return false;
      if (f.keys.size() < kSmall) {
        f.keys.emplace_back(key);
        return true;
      }
      f.many.insert(f.keys.begin(), f.keys.end());
    }
    return f.many.emplace(key).second;
  }

  bool skipped(std::string_view key) const {
    for (auto k : skip_)
      if (k == key) return true;
    return false;
  }
  // A scalar: built unless it belongs to a dropped value.
  template <typename Build>
  bool scalar(Build build) {
    bool ok = true;
    if (!skipping_)
      ok = build();
    else if (depth_ == 1)
      skipping_ = false;  // the dropped value was this scalar
    done();
    return ok;
  }
  bool enter(bool object) {
    if (++depth_ > max_) return fail("JSON nesting deeper than " + std::to_string(max_) + " levels");
    if (track_) {
      if (open_ == frames_.size()) frames_.emplace_back();
      Frame& f = frames_[open_++];
      f.object = object;
      f.has_key = false;
      f.index = 0;
      f.keys.clear();
      f.many.clear();
    }
    return true;
  }
  // Closes an object or array; true when it belonged to a dropped value.
  bool leave() {
    --depth_;
    if (track_) --open_;
    if (!skipping_) return false;
    if (depth_ == 1) skipping_ = false;  // the dropped value ends here
    return true;
  }
  // A value is complete: the enclosing array moves to its next element, the enclosing
  // object waits for its next key.
  void done() {
    if (!track_ || open_ == 0) return;
    Frame& f = top();
    if (f.object)
      f.has_key = false;
    else
      ++f.index;
  }
  bool note_key(std::string_view key) {
    if (!track_) return true;
    Frame& f = top();
    if (refuse_duplicates_ && !first_time(f, key))
      return fail("duplicate key '" + printable(key) + "' in " + object_at());
    f.key.assign(key);
    f.has_key = true;
    return true;
  }
  bool clean(std::string_view s, bool key) {
    if (has_lone_surrogate(s)) return fail("a \\u escape of a lone UTF-16 surrogate in " + text_at(key));
    if (refuse_nul_ && s.find('\0') != std::string_view::npos)
      return fail("a NUL character (\\u0000) in " + text_at(key));
    return true;
  }
  std::string text_at(bool key) const {
    if (!track_) return key ? "a key" : "a string";
    return key ? "a key of " + object_at() : value_at();
  }
  // The member path of the value being read: deviceInfo.tags.site, rxInfo[0].rssi.
  std::string path() const {
    std::string out;
    for (std::size_t i = 0; i < open_; ++i) {
      const Frame& f = frames_[i];
      if (!f.object) {
        out += "[" + std::to_string(f.index) + "]";
      } else if (f.has_key) {
        if (!out.empty()) out += '.';
        out += printable(f.key);
      }
    }
    return out;
  }
  std::string value_at() const {
    auto p = path();
    return p.empty() ? "the top-level value" : "the value at '" + p + "'";
  }
  std::string object_at() const {
    auto p = path();
    return p.empty() ? "the top-level object" : "the object at '" + p + "'";
  }
  bool fail(std::string why) {
    failure_ = std::move(why);
    return false;
  }

  Document& doc_;
  int max_, depth_ = 0;
  std::span<const std::string_view> skip_;
  bool refuse_nul_, refuse_duplicates_, track_;
  bool skipping_ = false;
  rapidjson::SizeType skipped_members_ = 0;
  std::vector<Frame> frames_;  // frames_[0, open_) are open
  std::size_t open_ = 0;
  std::string failure_;
};

}  // namespace

Result<Document> parse(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_bytes) {
    return Error(Errc::too_large, "JSON body of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                                      std::to_string(limits.max_bytes) + " bytes");
  }
  // A byte order mark is not JSON (RFC 8259 says not to send one; FastAPI refuses it too).
  // RapidJSON's EncodedInputStream would skip it, and any one of its three bytes alone, so a
  // caller keeping the text as is (ingest's `raw`) would keep bytes that are not JSON (found
  // by fuzzing): the reader reads the bytes as they are.
  if (text.starts_with("\xEF\xBB\xBF"))
    return Error(Errc::invalid_argument, "malformed JSON at offset 0: a byte order mark (BOM) before the value");
  Document doc;
  rapidjson::Reader reader;
  Builder handler(doc, limits);
  rapidjson::MemoryStream is(text.data(), text.size());
  // Iterative: the parser itself never recurses, whatever the input. Validating the
  // encoding costs a little per string byte and keeps every document valid UTF-8.
  // Numbers as text: the Builder reads them (see RawNumber).
  constexpr unsigned kFlags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
  auto generate = [&](Document&) { return !reader.Parse<kFlags>(is, handler).IsError(); };
  doc.Populate(generate);
  // The reader takes a NUL byte for the end of the text, so `{...}\0\0` parses: whatever
  // follows must not reach someone who keeps the text as is (found by fuzzing).
  if (!reader.HasParseError() && is.Tell() != text.size())
    return Error(Errc::invalid_argument,
                 "malformed JSON at offset " + std::to_string(is.Tell()) + ": a NUL byte after the value");
  if (!reader.HasParseError()) return doc;
  std::string offset = std::to_string(reader.GetErrorOffset());
  if (!handler.failure().empty()) return Error(Errc::invalid_argument, handler.failure() + " (offset " + offset + ")");
  if (reader.GetParseErrorCode() == rapidjson::kParseErrorStringInvalidEncoding) {
    std::string where = handler.lexing();
    return Error(Errc::invalid_argument,
                 "invalid UTF-8" + (where.empty() ? std::string() : " in " + where) + " (offset " + offset + ")");
  }
  return Error(Errc::invalid_argument,
               "malformed JSON at offset " + offset + ": " + rapidjson::GetParseError_En(reader.GetParseErrorCode()));
}

std::size_t find_control(std::string_view s, std::string_view allowed) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 || c == 0x7F) && allowed.find(s[i]) == std::string_view::npos) return i;
  }
  return std::string_view::npos;
}

std::string code_point_name(char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto u = static_cast<unsigned char>(c);
  return std::string("U+00") + kHex[u >> 4] + kHex[u & 15];
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
