// ChirpStack webhook bodies → the normalised device event. ChirpStack v4 posts the protobuf
// JSON mapping (lowerCamelCase, enums as strings, bytes base64, unset fields omitted, so a
// missing counter means 0); v3 posts either the same mapping of its own messages (base64
// devEUI, objectJSON as a string) or the legacy JSON (hex devEUI, object inline).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>
#include <vector>

#include "codec.hpp"
#include "dm/contract/words.hpp"
#include "dm/core/strings.hpp"
#include "event.hpp"

namespace dm::ingest {

std::optional<std::string> normalise_hex(std::string_view text);

namespace {

using json::Value;
using json::Writer;

Error bad(std::string message) { return Error(Errc::invalid_argument, std::move(message)); }

// Bodies come from outside: a NUL character would reach PostgreSQL (text and jsonb cannot
// hold it, so the history writer and every later reader would fail on the event), and a
// key named twice would be read one way here and another way by a flow's function.
constexpr json::Limits kBodyLimits{.refuse_duplicate_keys = true, .refuse_nul = true};

// Names and ids reach text columns, the registry (auto-registered device names), logs and
// the Nats-Msg-Id header, where a control character breaks a line or forges a header.
Result<void> no_control(const std::string& field, std::string_view text) {
  auto at = json::find_control(text);
  if (at == std::string_view::npos) return ok();
  return bad("field '" + field + "' must not contain control characters (" + json::code_point_name(text[at]) +
             " at byte " + std::to_string(at) + ")");
}

// Reads protobuf-JSON fields of one object, naming the full path in errors.
class Reader {
 public:
  Reader(const Value& object, std::string path) : obj_(object), path_(std::move(path)) {}

  const Value* get(std::string_view key) const {
    const Value* v = json::find(obj_, key);
    return v == nullptr || v->IsNull() ? nullptr : v;
  }
  std::string name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  Result<std::optional<std::string_view>> str(std::string_view key) const {
    const Value* v = get(key);
    if (v == nullptr) return std::optional<std::string_view>();
    if (!v->IsString()) return bad("field '" + name(key) + "' must be a string");
    return std::optional<std::string_view>(json::view(*v));
  }
  // A name or an id: a string without control characters (free text such as a log's
  // description stays inside the JSON document, which escapes them).
  Result<std::optional<std::string_view>> label(std::string_view key) const {
    DM_ASSIGN_OR_RETURN(auto s, str(key));
    if (s) DM_TRY(no_control(name(key), *s));
    return s;
  }
  // Protobuf JSON writes 64-bit integers as strings; accept both.
  Result<std::optional<std::int64_t>> integer(std::string_view key) const {
    const Value* v = get(key);
    if (v == nullptr) return std::optional<std::int64_t>();
    if (v->IsInt64()) return std::optional<std::int64_t>(v->GetInt64());
    if (v->IsUint64()) return std::optional<std::int64_t>(static_cast<std::int64_t>(v->GetUint64()));
    if (v->IsString()) {
      std::string s(json::view(*v));
      if (!s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::optional<std::int64_t>(std::stoll(s));
    }
    return bad("field '" + name(key) + "' must be an integer");
  }
  Result<std::optional<double>> number(std::string_view key) const {
    const Value* v = get(key);
    if (v == nullptr) return std::optional<double>();
    if (!v->IsNumber()) return bad("field '" + name(key) + "' must be a number");
    return std::optional<double>(v->GetDouble());
  }
  Result<std::optional<bool>> boolean(std::string_view key) const {
    const Value* v = get(key);
    if (v == nullptr) return std::optional<bool>();
    if (!v->IsBool()) return bad("field '" + name(key) + "' must be a boolean");
    return std::optional<bool>(v->GetBool());
  }
  Result<const Value*> object(std::string_view key) const {
    const Value* v = get(key);
    if (v != nullptr && !v->IsObject()) return bad("field '" + name(key) + "' must be an object");
    return v;
  }
  Result<const Value*> array(std::string_view key) const {
    const Value* v = get(key);
    if (v != nullptr && !v->IsArray()) return bad("field '" + name(key) + "' must be an array");
    return v;
  }
  bool has(std::string_view key) const { return get(key) != nullptr; }

 private:
  const Value& obj_;
  std::string path_;
};

// The keys written into one object of the message. Two keys of a body can map to one
// snake_case key ("gatewayId" and "gateway_id", or a key we write ourselves): the message
// names each key once and the first one written wins, so every reader sees the same value.
// Objects are small: a linear scan, and a hash set only for a big one.
class WrittenKeys {
 public:
  bool add(const std::string& key) {
    if (big_.empty() && few_.size() < 16) {
      if (std::find(few_.begin(), few_.end(), key) != few_.end()) return false;
      few_.push_back(key);
      return true;
    }
    if (big_.empty()) big_.insert(few_.begin(), few_.end());
    return big_.insert(key).second;
  }

 private:
  std::vector<std::string> few_;
  std::unordered_set<std::string> big_;
};

void copy_snake(Writer& w, const Value& v);

// One member of a sub-message under its snake_case key, unless that key is written already.
void copy_member(Writer& w, WrittenKeys& written, std::string_view key, const Value& value) {
  std::string snake = snake_case(key);
  if (!written.add(snake)) return;
  w.key(snake);
  if (key == "metadata")
    w.value(value);
  else
    copy_snake(w, value);
}

// Copies a ChirpStack sub-message with snake_case keys. `context` blobs are opaque gateway
// state (useless downstream, often the largest field) and are dropped; `metadata` maps are
// user/vendor keys and stay verbatim.
void copy_snake(Writer& w, const Value& v) {
  if (v.IsObject()) {
    WrittenKeys written;
    w.start_object();
    for (const auto& m : v.GetObject()) {
      std::string_view key = json::view(m.name);
      if (key == "context") continue;
      copy_member(w, written, key, m.value);
    }
    w.end_object();
  } else if (v.IsArray()) {
    w.start_array();
    for (const auto& e : v.GetArray()) copy_snake(w, e);
    w.end_array();
  } else {
    w.value(v);
  }
}

Result<std::optional<std::string>> time_field(const Reader& r, std::string_view key) {
  DM_ASSIGN_OR_RETURN(auto s, r.str(key));
  if (!s) return std::optional<std::string>();
  auto t = parse_rfc3339(*s);
  if (!t) return bad("field '" + r.name(key) + "' must be an RFC 3339 timestamp");
  return std::optional<std::string>(format_rfc3339(*t));
}

// Base64 bytes field, re-encoded in the standard alphabet with padding.
Result<std::optional<std::string>> base64_field(const Reader& r, std::string_view key) {
  DM_ASSIGN_OR_RETURN(auto s, r.str(key));
  if (!s) return std::optional<std::string>();
  auto bytes = base64_decode(*s);
  if (!bytes) return bad("field '" + r.name(key) + "' is not valid base64");
  return std::optional<std::string>(base64_encode(*bytes));
}

// A v3 identifier: bytes as base64 (protobuf JSON) or already hex (legacy JSON).
Result<std::optional<std::string>> v3_hex_field(const Reader& r, std::string_view key, std::size_t bytes) {
  DM_ASSIGN_OR_RETURN(auto s, r.str(key));
  if (!s) return std::optional<std::string>();
  if (s->size() == bytes * 2 &&
      std::all_of(s->begin(), s->end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
    std::string out(*s);
    out = lower(out);
    return std::optional<std::string>(out);
  }
  auto raw = base64_decode(*s);
  if (!raw || raw->size() != bytes)
    return bad("field '" + r.name(key) + "' must be " + std::to_string(bytes * 2) + " hex digits or base64 of " +
               std::to_string(bytes) + " bytes");
  return std::optional<std::string>(hex_encode(*raw));
}

struct Context {
  const Value& root;
  Reader body;
  SourceFormat format;
  std::string_view raw_text;
  bool v3() const { return format != SourceFormat::chirpstack_v4; }
};

std::string infer_v4(const Reader& b) {
  if (b.has("level") || b.has("code")) return "log";
  if (b.has("batteryLevel") || b.has("margin") || b.has("externalPowerSource") || b.has("batteryLevelUnavailable"))
    return "status";
  if (b.has("downlinkId") || b.has("gatewayId")) return "txack";
  if (b.has("acknowledged") || b.has("queueItemId") || b.has("fCntDown")) return "ack";
  if (b.has("location") && !b.has("rxInfo")) return "location";
  for (const char* k : {"fPort", "fCnt", "data", "object", "rxInfo", "dr", "confirmed", "adr"})
    if (b.has(k)) return "up";
  if (b.has("devAddr")) return "join";
  return {};
}

std::string infer_v3(const Reader& b) {
  if (b.has("type") && b.has("error")) return "log";
  if (b.has("level") && b.has("code")) return "log";
  if (b.has("batteryLevel") || b.has("margin") || b.has("externalPowerSource") || b.has("batteryLevelUnavailable"))
    return "status";
  if (b.has("acknowledged")) return "ack";
  if (b.has("gatewayID") && !b.has("rxInfo")) return "txack";
  if (b.has("location") && !b.has("rxInfo")) return "location";
  for (const char* k : {"fPort", "fCnt", "data", "objectJSON", "object", "rxInfo", "dr"})
    if (b.has(k)) return "up";
  if (b.has("devAddr")) return "join";
  return {};
}

Result<void> write_rx_info(Writer& w, const Context& c, std::optional<double>& best_rssi,
                           std::optional<double>& best_snr, std::int64_t& count) {
  DM_ASSIGN_OR_RETURN(const Value* rx, c.body.array("rxInfo"));
  w.key("rx_info").start_array();
  if (rx != nullptr) {
    for (rapidjson::SizeType i = 0; i < rx->Size(); ++i) {
      const Value& item = (*rx)[i];
      std::string path = "rxInfo[" + std::to_string(i) + "]";
      if (!item.IsObject()) return bad("field '" + path + "' must be an object");
      Reader r(item, path);
      DM_ASSIGN_OR_RETURN(auto rssi, r.number("rssi"));
      DM_ASSIGN_OR_RETURN(auto snr, r.number(c.v3() ? "loRaSNR" : "snr"));
      if (rssi && (!best_rssi || *rssi > *best_rssi)) best_rssi = rssi;
      if (snr && (!best_snr || *snr > *best_snr)) best_snr = snr;
      ++count;
      w.start_object();
      WrittenKeys written;
      written.add("gateway_id");
      if (c.v3()) {
        DM_ASSIGN_OR_RETURN(auto gw, v3_hex_field(r, "gatewayID", 8));
        w.field("gateway_id", gw.value_or(""));
        if (const Value* up = r.get("uplinkID"); up != nullptr && up->IsString()) {
          auto bytes = base64_decode(json::view(*up));
          w.field("uplink_id", bytes && bytes->size() == 16 ? uuid_from_bytes(*bytes) : std::string(json::view(*up)));
          written.add("uplink_id");
        }
        w.field_or_null("snr", snr);
        written.add("snr");
      } else {
        DM_ASSIGN_OR_RETURN(auto gw, r.label("gatewayId"));
        w.field("gateway_id", gw.value_or(""));
      }
      for (const auto& m : item.GetObject()) {
        std::string_view key = json::view(m.name);
        if (key == "gatewayId" || key == "gatewayID" || key == "uplinkID" || key == "loRaSNR" || key == "context")
          continue;
        if (key == "location" && m.value.IsObject() && m.value.ObjectEmpty()) continue;  // unset message
        copy_member(w, written, key, m.value);
      }
      w.end_object();
    }
  }
  w.end_array();
  return ok();
}

Result<void> write_tx_info(Writer& w, const Reader& b) {
  DM_ASSIGN_OR_RETURN(const Value* tx, b.object("txInfo"));
  w.key("tx_info");
  if (tx != nullptr)
    copy_snake(w, *tx);
  else
    w.null();
  return ok();
}

// DevAddr: hex in v4, base64 of 4 bytes or hex in v3.
Result<void> write_dev_addr(Writer& w, const Context& c) {
  if (c.v3()) {
    DM_ASSIGN_OR_RETURN(auto addr, v3_hex_field(c.body, "devAddr", 4));
    w.field_or_null("dev_addr", addr);
  } else {
    DM_ASSIGN_OR_RETURN(auto addr, c.body.str("devAddr"));
    w.field_or_null("dev_addr", addr ? normalise_hex(*addr) : std::nullopt);
  }
  return ok();
}

Result<void> write_up(Writer& w, const Context& c) {
  const Reader& b = c.body;
  DM_TRY(write_dev_addr(w, c));
  DM_ASSIGN_OR_RETURN(auto f_port, b.integer("fPort"));
  DM_ASSIGN_OR_RETURN(auto f_cnt, b.integer("fCnt"));
  DM_ASSIGN_OR_RETURN(auto dr, b.integer("dr"));
  DM_ASSIGN_OR_RETURN(auto adr, b.boolean("adr"));
  DM_ASSIGN_OR_RETURN(auto confirmed, b.boolean(c.v3() ? "confirmedUplink" : "confirmed"));
  if (f_port && (*f_port < 0 || *f_port > 255)) return bad("field 'fPort' must be between 0 and 255");
  if (f_cnt && (*f_cnt < 0 || *f_cnt > 4294967295LL)) return bad("field 'fCnt' must be between 0 and 4294967295");
  if (dr && (*dr < 0 || *dr > 15)) return bad("field 'dr' must be between 0 and 15");
  w.field_or_null("f_port", f_port);
  w.field("f_cnt", f_cnt.value_or(0));  // protobuf JSON omits a zero counter
  w.field("dr", dr.value_or(0));
  w.field("adr", adr.value_or(false));
  w.field("confirmed", confirmed.value_or(false));
  DM_ASSIGN_OR_RETURN(auto data, base64_field(b, "data"));
  w.field_or_null("data", data);
  w.key("object");
  DM_ASSIGN_OR_RETURN(const Value* object, b.object("object"));
  if (object != nullptr) {
    w.value(*object);
  } else if (c.v3() && b.has("objectJSON")) {
    DM_ASSIGN_OR_RETURN(auto text, b.str("objectJSON"));
    if (text->empty()) {
      w.null();
    } else {
      auto parsed = json::parse(*text, kBodyLimits);
      if (!parsed)
        return bad("field 'objectJSON' must be a JSON object encoded as a string: " + parsed.error().message);
      if (!parsed->IsObject()) return bad("field 'objectJSON' must be a JSON object encoded as a string");
      w.value(*parsed);
    }
  } else {
    w.null();
  }
  std::optional<double> rssi, snr;
  std::int64_t count = 0;
  DM_TRY(write_rx_info(w, c, rssi, snr, count));
  w.field_or_null("rssi", rssi);
  w.field_or_null("snr", snr);
  w.field("gateway_count", count);
  return write_tx_info(w, b);
}

Result<void> write_status(Writer& w, const Context& c, std::optional<double>& battery) {
  const Reader& b = c.body;
  DM_ASSIGN_OR_RETURN(auto level, b.number("batteryLevel"));
  DM_ASSIGN_OR_RETURN(auto unavailable, b.boolean("batteryLevelUnavailable"));
  DM_ASSIGN_OR_RETURN(auto external, b.boolean("externalPowerSource"));
  DM_ASSIGN_OR_RETURN(auto margin, b.integer("margin"));
  if (unavailable.value_or(false) || external.value_or(false) || !level || *level < 0 || *level > 100)
    battery.reset();
  else
    battery = level;
  w.field_or_null("battery_level", battery);
  w.field("margin", margin.value_or(0));
  w.field("external_power", external.value_or(false));
  return ok();
}

Result<void> write_downlink(Writer& w, const Context& c, bool tx_ack) {
  const Reader& b = c.body;
  DM_ASSIGN_OR_RETURN(auto f_cnt_down, b.integer(c.v3() ? "fCnt" : "fCntDown"));
  if (f_cnt_down && *f_cnt_down < 0) return bad("field 'fCntDown' must not be negative");
  w.field("f_cnt_down", f_cnt_down.value_or(0));
  DM_ASSIGN_OR_RETURN(auto queue_item, b.label(c.v3() ? "queueItemID" : "queueItemId"));
  w.field_or_null("queue_item_id", queue_item);
  if (!tx_ack) {
    DM_ASSIGN_OR_RETURN(auto acknowledged, b.boolean("acknowledged"));
    w.field("acknowledged", acknowledged.value_or(false));
    return ok();
  }
  if (c.v3()) {
    DM_ASSIGN_OR_RETURN(auto gw, v3_hex_field(b, "gatewayID", 8));
    w.field_or_null("gateway_id", gw);
  } else {
    DM_ASSIGN_OR_RETURN(auto gw, b.label("gatewayId"));
    w.field_or_null("gateway_id", gw);
  }
  return write_tx_info(w, b);
}

Result<void> write_log(Writer& w, const Context& c) {
  const Reader& b = c.body;
  std::string level = "info", code = "UNKNOWN", description;
  if (c.v3() && b.has("error")) {  // v3 "error" event: {type, error}
    DM_ASSIGN_OR_RETURN(auto type, b.str("type"));
    DM_ASSIGN_OR_RETURN(auto error, b.str("error"));
    level = "error";
    if (type) code = std::string(*type);
    if (error) description = std::string(*error);
  } else {
    DM_ASSIGN_OR_RETURN(auto lv, b.str("level"));
    DM_ASSIGN_OR_RETURN(auto cd, b.str("code"));
    DM_ASSIGN_OR_RETURN(auto ds, b.str("description"));
    std::string l = lv ? lower(*lv) : "info";
    if (l == "warning" || l == "error") level = l;
    if (cd) code = std::string(*cd);
    if (ds) description = std::string(*ds);
  }
  w.key("log").start_object().field("level", level).field("code", code).field("description", description);
  DM_ASSIGN_OR_RETURN(const Value* context, b.object("context"));
  w.key("context");
  if (context == nullptr) {
    w.null();
  } else {
    w.start_object();
    for (const auto& m : context->GetObject()) {
      w.key(json::view(m.name));
      if (m.value.IsString())
        w.value(m.value);
      else
        w.string(json::to_string(m.value));
    }
    w.end_object();
  }
  w.end_object();
  return ok();
}

Result<void> write_location(Writer& w, const Context& c) {
  DM_ASSIGN_OR_RETURN(const Value* loc, c.body.object("location"));
  if (loc == nullptr) return bad("field 'location' is required for a location event");
  Reader r(*loc, "location");
  DM_ASSIGN_OR_RETURN(auto lat, r.number("latitude"));
  DM_ASSIGN_OR_RETURN(auto lon, r.number("longitude"));
  DM_ASSIGN_OR_RETURN(auto alt, r.number("altitude"));
  DM_ASSIGN_OR_RETURN(auto acc, r.number("accuracy"));
  DM_ASSIGN_OR_RETURN(auto source, r.str("source"));
  // Protobuf JSON omits a zero coordinate, so a missing one is 0, but it must be in range.
  double la = lat.value_or(0), lo = lon.value_or(0);
  if (la < -90 || la > 90) return bad("field 'location.latitude' must be between -90 and 90");
  if (lo < -180 || lo > 180) return bad("field 'location.longitude' must be between -180 and 180");
  w.key("location").start_object().field("latitude", la).field("longitude", lo);
  w.field_or_null("altitude", alt);
  w.field_or_null("source", source ? std::optional<std::string>(lower(*source)) : std::nullopt);
  w.field_or_null("accuracy", acc);
  w.end_object();
  return ok();
}

// ChirpStack's tags: a map of strings whose user-chosen keys and values become flow message
// fields and storage tags, so both are names.
Result<void> write_tags(Writer& w, const Reader& parent) {
  DM_ASSIGN_OR_RETURN(const Value* tags, parent.object("tags"));
  const std::string field = parent.name("tags");
  w.key("tags").start_object();
  if (tags != nullptr) {
    for (const auto& m : tags->GetObject()) {
      std::string_view key = json::view(m.name);
      if (auto at = json::find_control(key); at != std::string_view::npos)
        return bad("field '" + field + "' must not have keys with control characters (" +
                   json::code_point_name(key[at]) + ")");
      if (!m.value.IsString()) return bad("field '" + field + "." + std::string(key) + "' must be a string");
      DM_TRY(no_control(field + "." + std::string(key), json::view(m.value)));
      w.key(key).value(m.value);
    }
  }
  w.end_object();
  return ok();
}

// Optional members the normaliser reads for some event types must have their protobuf JSON
// type whatever the event: a wrong type means a broken or hostile sender, not an unset field.
Result<void> check_shapes(const Reader& root) {
  for (const char* key : {"object", "txInfo", "location"}) DM_TRY(root.object(key));
  DM_TRY(root.str("objectJSON"));
  DM_ASSIGN_OR_RETURN(const Value* rx, root.array("rxInfo"));
  if (rx == nullptr) return ok();
  for (rapidjson::SizeType i = 0; i < rx->Size(); ++i)
    if (!(*rx)[i].IsObject()) return bad("field 'rxInfo[" + std::to_string(i) + "]' must be an object");
  return ok();
}

// The fields of one event type (the schema's oneOf by event_type).
Result<void> write_type_fields(Writer& w, const Context& c, contract::EventType type, ParsedEvent& ev) {
  switch (type) {
    case contract::EventType::up:
      return write_up(w, c);
    case contract::EventType::join:
      return write_dev_addr(w, c);
    case contract::EventType::status:
      return write_status(w, c, ev.battery_level);
    case contract::EventType::ack:
      return write_downlink(w, c, false);
    case contract::EventType::txack:
      return write_downlink(w, c, true);
    case contract::EventType::log:
      return write_log(w, c);
    case contract::EventType::location:
      return write_location(w, c);
  }
  return ok();
}

// The ?event= word, if any, as a contract event type ("error", v3's log event, becomes "log").
Result<std::string> event_type_param(std::string_view event_param) {
  std::string event_type(event_param);
  if (event_type == "error") event_type = "log";  // ChirpStack v3's error event is a log line
  if (!event_type.empty() && !contract::parse<contract::EventType>(event_type)) {
    // Named back only when it is short, plain text: the query string may hold any bytes.
    bool plain = event_type.size() <= 32 &&
                 std::all_of(event_type.begin(), event_type.end(), [](char ch) { return ch > 0x20 && ch < 0x7F; });
    return bad("unknown event type" + (plain ? " '" + event_type + "'" : std::string()) +
               ": expected up, join, status, ack, txack, log or location");
  }
  return event_type;
}

// The device's EUI, and from how it is written which format the body is in: v4 has
// deviceInfo.devEui; v3 has devEUI, as base64 (protobuf JSON) or hex (legacy JSON).
Result<void> read_dev_eui(const Reader& root, const Value* device_info, ParsedEvent& ev) {
  if (device_info != nullptr) {
    ev.format = SourceFormat::chirpstack_v4;
    Reader di(*device_info, "deviceInfo");
    DM_ASSIGN_OR_RETURN(auto eui, di.str("devEui"));
    if (!eui) return bad("field 'deviceInfo.devEui' is required");
    auto norm = normalise_dev_eui(*eui);
    if (!norm) return bad("field 'deviceInfo.devEui' must be 16 hexadecimal digits");
    ev.dev_eui = *norm;
    return ok();
  }
  DM_ASSIGN_OR_RETURN(auto eui, root.str("devEUI"));
  if (!eui) return bad("devEui is required: field 'deviceInfo.devEui' (ChirpStack v4) or 'devEUI' (v3) is missing");
  if (auto hex = normalise_dev_eui(*eui)) {
    ev.format = SourceFormat::chirpstack_v3_legacy;
    ev.dev_eui = *hex;
    return ok();
  }
  auto bytes = base64_decode(*eui);
  if (!bytes || bytes->size() != 8) return bad("field 'devEUI' must be 16 hex digits or base64 of 8 bytes");
  ev.format = SourceFormat::chirpstack_v3;
  ev.dev_eui = hex_encode(*bytes);
  return ok();
}

Result<void> read_dedup_id(const Reader& root, std::string_view body, ParsedEvent& ev) {
  DM_ASSIGN_OR_RETURN(auto dedup, root.str("deduplicationId"));
  // Protobuf JSON omits an unset id, so an empty one is unset too: the body's hash keys it.
  if (dedup && !dedup->empty() && !valid_dedup_id(*dedup))
    return bad("field 'deduplicationId' must be at most " + std::to_string(kMaxDedupId) +
               " characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'");
  ev.dedup_id = dedup && !dedup->empty() ? std::string(*dedup) : sha256_hex(body);
  return ok();
}

// Time, application, device and profile of a v3 body: top-level fields, no tenant.
Result<void> write_v3_source(Writer& w, const Reader& root, ParsedEvent& ev) {
  DM_ASSIGN_OR_RETURN(auto t, time_field(root, "publishedAt"));
  w.field_or_null("time", t);
  w.key("tenant_id").null().key("tenant_name").null();
  const Value* app = root.get("applicationID");
  if (app != nullptr && app->IsString()) DM_TRY(no_control("applicationID", json::view(*app)));
  w.key("application_id");
  if (app == nullptr)
    w.null();
  else if (app->IsString())
    w.value(*app);
  else
    w.string(json::to_string(*app));
  DM_ASSIGN_OR_RETURN(auto app_name, root.label("applicationName"));
  w.field_or_null("application_name", app_name);
  DM_ASSIGN_OR_RETURN(auto name, root.label("deviceName"));
  w.field_or_null("device_name", name);
  if (name) ev.device_name = std::string(*name);
  DM_ASSIGN_OR_RETURN(auto profile_id, root.label("deviceProfileID"));
  DM_ASSIGN_OR_RETURN(auto profile_name, root.label("deviceProfileName"));
  w.field_or_null("device_profile_id", profile_id);
  w.field_or_null("device_profile_name", profile_name);
  return write_tags(w, root);
}

// The same of a v4 body: in deviceInfo.
Result<void> write_v4_source(Writer& w, const Reader& root, const Value& device_info, ParsedEvent& ev) {
  DM_ASSIGN_OR_RETURN(auto t, time_field(root, "time"));
  w.field_or_null("time", t);
  Reader di(device_info, "deviceInfo");
  for (auto [from, to] : {std::pair{"tenantId", "tenant_id"},
                          {"tenantName", "tenant_name"},
                          {"applicationId", "application_id"},
                          {"applicationName", "application_name"},
                          {"deviceName", "device_name"},
                          {"deviceProfileId", "device_profile_id"},
                          {"deviceProfileName", "device_profile_name"}}) {
    DM_ASSIGN_OR_RETURN(auto s, di.label(from));
    w.field_or_null(to, s);
    if (s && std::string_view(from) == "deviceName") ev.device_name = std::string(*s);
  }
  return write_tags(w, di);
}

}  // namespace

std::string_view source_format_name(SourceFormat f) {
  switch (f) {
    case SourceFormat::chirpstack_v4:
      return "chirpstack_v4";
    case SourceFormat::chirpstack_v3:
      return "chirpstack_v3";
    case SourceFormat::chirpstack_v3_legacy:
      return "chirpstack_v3_legacy";
  }
  return "chirpstack_v4";
}

Result<ParsedEvent> parse_chirpstack(std::string_view body, std::string_view event_param, SysTime received) {
  DM_ASSIGN_OR_RETURN(std::string event_type, event_type_param(event_param));
  // Syntax, invalid UTF-8, NUL characters, duplicate keys: the message says what and where.
  auto doc = json::parse(body, kBodyLimits);
  if (!doc) return doc.take_error();
  if (!doc->IsObject()) return bad("the body must be a JSON object");
  Reader root(*doc, "");

  ParsedEvent ev;
  DM_ASSIGN_OR_RETURN(const Value* device_info, root.object("deviceInfo"));
  DM_TRY(read_dev_eui(root, device_info, ev));
  DM_TRY(check_shapes(root));
  Context c{*doc, root, ev.format, body};
  if (event_type.empty()) {
    event_type = c.v3() ? infer_v3(root) : infer_v4(root);
    if (event_type.empty()) return bad("cannot infer the event type from the body: pass ?event=<type>");
  }
  ev.event_type = event_type;
  DM_TRY(read_dedup_id(root, body, ev));
  ev.received_at = format_rfc3339(received);

  Writer w;
  w.start_object();
  w.field("event_type", ev.event_type).field("dev_eui", ev.dev_eui).field("dedup_id", ev.dedup_id);
  w.field("received_at", ev.received_at);
  if (c.v3()) {
    DM_TRY(write_v3_source(w, root, ev));
  } else {
    DM_TRY(write_v4_source(w, root, *device_info, ev));
  }
  w.field("source_format", source_format_name(ev.format));

  // A known word: checked above, or inferred from the body.
  DM_TRY(write_type_fields(w, c, *contract::parse<contract::EventType>(event_type), ev));
  // The body as received: it parsed, so it is one valid JSON value.
  w.key("raw").raw(body);
  w.end_object();
  std::string out = w.take();
  ev.body_members = out.substr(1, out.size() - 2);  // without the outer braces
  return ev;
}

// 8 hex digits of a DevAddr in lower case; nullopt when it is not hex of that length.
std::optional<std::string> normalise_hex(std::string_view text) {
  if (text.size() != 8) return std::nullopt;
  std::string out(text);
  for (auto& ch : out) {
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return std::nullopt;
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

std::string to_message(const ParsedEvent& event, const std::optional<std::string>& device_id) {
  std::string out;
  out.reserve(event.body_members.size() + 64);
  out += "{\"device_id\":";
  if (device_id) {
    out += '"';
    out += *device_id;  // a UUID from the registry: no escaping needed
    out += '"';
  } else {
    out += "null";
  }
  out += ',';
  out += event.body_members;
  out += '}';
  return out;
}

}  // namespace dm::ingest
