#pragma once
// The normalised device event (proto/schemas/device-event.schema.json) and the pure parser
// that turns one ChirpStack webhook body (v4, v3 protobuf JSON, v3 legacy JSON) into it.
// No I/O here: the webhook handler, the tests and the benchmark all call the same code.
#include <optional>
#include <string>
#include <string_view>

#include "dm/contract/subjects.hpp"
#include "dm/core/result.hpp"
#include "dm/core/time.hpp"
#include "dm/json/json.hpp"

namespace dm::ingest {

enum class SourceFormat { chirpstack_v4, chirpstack_v3, chirpstack_v3_legacy };
std::string_view source_format_name(SourceFormat f);

struct ParsedEvent {
  std::string event_type;
  std::string dev_eui;      // 16 lower-case hex digits
  std::string dedup_id;     // deduplicationId, or SHA-256 of the body
  std::string device_name;  // empty when the body has none (used to auto-register)
  SourceFormat format = SourceFormat::chirpstack_v4;
  std::optional<double> battery_level;  // status events with a known battery level
  std::string received_at;              // RFC 3339, set by the parser from `received`
  // The message without device_id: the JSON object's members, written by the parser, so
  // that to_message() only splices in the device id (no second pass over the DOM).
  std::string body_members;

  std::string msg_id() const { return event_type + ":" + dedup_id; }
  std::string subject() const { return contract::subject::device_event(dev_eui, event_type); }
};

// `event_param` is ?event= (empty = infer it from the body). Errors are invalid_argument
// with a precise message (malformed JSON, missing devEui, invalid base64, unknown event).
Result<ParsedEvent> parse_chirpstack(std::string_view body, std::string_view event_param, SysTime received);

// The device-event message: {"device_id": <id or null>, ...members}.
std::string to_message(const ParsedEvent& event, const std::optional<std::string>& device_id);

}  // namespace dm::ingest
