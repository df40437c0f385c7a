#pragma once
// Reading and writing the members of contract messages (private to libs/contract): the
// schema's required/null rules, its patterns and ranges, and errors that name the field by
// its path in the message ("results[2].error.message").
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "dm/contract/message.hpp"
#include "dm/contract/words.hpp"
#include "dm/contract/work.hpp"
#include "dm/json/json.hpp"

namespace dm::contract::detail {

// How a member may be missing, as the schema says: required (present, not null), nullable
// (present, maybe null), optional (maybe absent, never null), optional_nullable (either).
enum class Need { required, nullable, optional, optional_nullable };

// What a string member must look like (a schema pattern or length), and how to say it.
struct Rule {
  bool (*ok)(std::string_view);
  const char* what;  // "must be <what>"
};
extern const Rule kText;       // any string
extern const Rule kNonEmpty;   // minLength 1
extern const Rule kToken;      // one subject token: [A-Za-z0-9_-]{1,128}
extern const Rule kDevEui;     // 16 lower-case hex digits
extern const Rule kTimestamp;  // RFC 3339
extern const Rule kBase64;     // standard base64 characters, padded

inline constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();

// The members of one JSON object. Reading one that breaks its rule is an invalid_argument
// error naming it; members nobody asks for are ignored (consumers ignore what they do not know).
class Fields {
 public:
  explicit Fields(const json::Value& object, std::string path = {}) : object_(object), path_(std::move(path)) {}

  // The member, or nullptr when it is missing (or null) and `need` allows that.
  Result<const json::Value*> get(std::string_view key, Need need) const;

  Result<std::string_view> text(std::string_view key, const Rule& rule = kText) const;
  Result<std::optional<std::string_view>> text(std::string_view key, Need need, const Rule& rule = kText) const;
  Result<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max = kNoMax) const;
  Result<std::optional<std::int64_t>> integer(std::string_view key, Need need, std::int64_t min,
                                              std::int64_t max = kNoMax) const;
  Result<double> number(std::string_view key, bool non_negative = false) const;
  Result<std::optional<double>> number(std::string_view key, Need need, bool non_negative = false) const;
  Result<std::optional<bool>> boolean(std::string_view key, Need need) const;
  // A JSON object member as compact text (it travels on raw).
  Result<std::optional<std::string>> object_text(std::string_view key, Need need) const;
  // A JSON array member as compact text, each element checked by `check` first.
  Result<std::string> array_text(std::string_view key, Result<void> (*check)(const Fields& element)) const;
  // A member that is itself an object, to read in turn.
  Result<std::optional<Fields>> object(std::string_view key, Need need) const;

  template <Word E>
  Result<E> word(std::string_view key) const {
    DM_ASSIGN_OR_RETURN(auto w, word<E>(key, Need::required));
    return *w;
  }
  template <Word E>
  Result<std::optional<E>> word(std::string_view key, Need need) const {
    DM_ASSIGN_OR_RETURN(auto text, this->text(key, need));
    if (!text) return std::optional<E>();
    if (auto value = parse<E>(*text)) return std::optional<E>(*value);
    return error(key, "must be " + one_of(Words<E>::names));
  }

  // Calls `read` with each element of an array member, which must be an object.
  template <typename Read>
  Result<void> each(std::string_view key, Read&& read) const {
    DM_ASSIGN_OR_RETURN(const json::Value* list, get(key, Need::required));
    if (!list->IsArray()) return error(key, "must be an array");
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      std::string at = path(key) + "[" + std::to_string(i) + "]";
      if (!(*list)[i].IsObject()) return Error(Errc::invalid_argument, "field '" + at + "' must be an object");
      DM_TRY(read(Fields((*list)[i], std::move(at))));
    }
    return ok();
  }

  // invalid_argument "field '<path.key>' <problem>".
  Error error(std::string_view key, std::string_view problem) const;
  std::string path(std::string_view key) const;
  const json::Value& value() const { return object_; }

  // "a, b or c".
  static std::string one_of(std::span<const std::string_view> words);

 private:
  const json::Value& object_;
  std::string path_;
};

// The message, parsed within `limits`: an object, or an error saying it is not `what`.
Result<json::Document> parse_object(std::string_view text, const json::Limits& limits, std::string_view what);

// A Text member of a decoded message (std::string) from what a reader saw.
inline std::optional<std::string> owned(const std::optional<std::string_view>& s) {
  return s ? std::optional<std::string>(std::string(*s)) : std::nullopt;
}

// Writing: a word, a JSON text that may be empty (null), a member only when it is set.
template <Word E>
void word_field(json::Writer& w, std::string_view key, E value) {
  w.field(key, to_string(value));
}
template <MessageText Text>
void raw_or_null(json::Writer& w, std::string_view key, const std::optional<Text>& json_text) {
  w.key(key);
  if (json_text)
    w.raw(*json_text);
  else
    w.null();
}
template <MessageText Text>
void field_if(json::Writer& w, std::string_view key, const std::optional<Text>& text) {
  if (text) w.field(key, *text);
}

// Pieces two messages share (function-exec-reply's results and function-run): the function's
// error ({"message", "stack"} or null) and its logs (an array of {level, message}, as text).
template <MessageText Text>
void write_fn_error(json::Writer& w, const BasicFnError<Text>& error) {
  w.start_object().field("message", error.message).field_or_null("stack", error.stack).end_object();
}
template <MessageText Text>
void write_fn_error_field(json::Writer& w, const std::optional<BasicFnError<Text>>& error) {
  w.key("error");
  if (error)
    write_fn_error(w, *error);
  else
    w.null();
}
template <MessageText Text>
void write_logs(json::Writer& w, const Text& logs) {
  w.key("logs").raw(logs.empty() ? std::string_view("[]") : std::string_view(logs));
}
Result<std::optional<FnError>> read_fn_error(const Fields& f);
Result<std::string> read_logs(const Fields& f);

}  // namespace dm::contract::detail
