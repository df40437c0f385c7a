// The ChirpStack webhook parser on arbitrary bodies, once inferring the event type and once
// with a type picked by the input's size. Beyond not crashing: an accepted event is what
// PostgreSQL, NATS and the registry can take (clean dev_eui, event type and dedup id, a name
// without control characters, a message that parses back with no NUL and only UTF-8 and that
// libs/contract's device-event decoder reads), and a
// refusal is invalid_argument or too_large with a clean, non-empty message.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "codec.hpp"
#include "dm/contract/device_event.hpp"
#include "dm/json/json.hpp"
#include "event.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace dm;

// A text a JSON answer or a log line can carry as is.
bool clean(std::string_view text) {
  return json::find_control(text) == std::string_view::npos &&
         json::parse(json::detail(text), {.max_bytes = text.size() * 6 + 32, .refuse_nul = true}).ok();
}

void check(const Result<ingest::ParsedEvent>& r) {
  if (!r) {
    FUZZ_CHECK(r.error().code == Errc::invalid_argument || r.error().code == Errc::too_large);
    FUZZ_CHECK(!r.error().message.empty() && clean(r.error().message));
    return;
  }
  const auto& ev = *r;
  FUZZ_CHECK(ev.dev_eui.size() == 16 && ev.dev_eui.find_first_not_of("0123456789abcdef") == std::string::npos);
  FUZZ_CHECK(contract::parse<contract::EventType>(ev.event_type).has_value());
  FUZZ_CHECK(ingest::valid_dedup_id(ev.dedup_id));  // also what the SHA-256 fallback looks like
  FUZZ_CHECK(clean(ev.device_name));
  for (const std::optional<std::string>& id : {std::optional<std::string>(), std::optional<std::string>("x")}) {
    std::string message = ingest::to_message(ev, id);
    auto doc = json::parse(
        message, {.max_bytes = message.size(), .max_depth = 128, .refuse_duplicate_keys = true, .refuse_nul = true});
    FUZZ_CHECK(doc.ok() && doc->IsObject());
    FUZZ_CHECK(contract::decode_device_event(message).ok());  // what its consumers read
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  static const SysTime kReceived = *parse_rfc3339("2026-11-27T10:00:00.5Z");
  check(ingest::parse_chirpstack(body, "", kReceived));
  const auto& types = contract::Words<contract::EventType>::names;
  check(ingest::parse_chirpstack(body, types[size % types.size()], kReceived));
  return 0;
}
