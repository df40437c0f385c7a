// The pure ChirpStack parser against every real fixture (tests/fixtures, copied from
// ../shared/fixtures/chirpstack with their SOURCES.md): v4 all event types, v3 protobuf JSON,
// v3 legacy JSON, format detection, event inference, and precise 400 messages.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "codec.hpp"
#include "dm/contract/device_event.hpp"
#include "event.hpp"
#include "proto_files.hpp"  // tests/proto: proto/ and its schemas

using namespace dm;
using namespace dm::ingest;

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(DM_INGEST_FIXTURES) + "/" + name);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const SysTime kReceived = *parse_rfc3339("2026-11-27T10:00:00.5Z");

struct Parsed {
  ParsedEvent ev;
  json::Document doc;
};

Parsed parse_ok(const std::string& body, const std::string& event = "", std::optional<std::string> id = {}) {
  auto r = parse_chirpstack(body, event, kReceived);
  if (!r) FAIL(r.error().message);
  Parsed p{std::move(r).value(), {}};
  auto doc = json::parse(to_message(p.ev, id));
  REQUIRE(doc.ok());
  p.doc = std::move(doc).value();
  return p;
}

std::string parse_error(const std::string& body, const std::string& event = "") {
  auto r = parse_chirpstack(body, event, kReceived);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::invalid_argument);
  return r.error().message;
}

std::string str(const json::Value& v, const char* key) {
  const auto* f = json::find(v, key);
  REQUIRE(f != nullptr);
  REQUIRE(f->IsString());
  return std::string(json::view(*f));
}
bool is_null(const json::Value& v, const char* key) {
  const auto* f = json::find(v, key);
  REQUIRE(f != nullptr);
  return f->IsNull();
}
std::int64_t integer(const json::Value& v, const char* key) {
  const auto* f = json::find(v, key);
  REQUIRE(f != nullptr);
  REQUIRE(f->IsInt64());
  return f->GetInt64();
}
double number(const json::Value& v, const char* key) {
  const auto* f = json::find(v, key);
  REQUIRE(f != nullptr);
  REQUIRE(f->IsNumber());
  return f->GetDouble();
}

void check_common_v4(const json::Value& d) {
  CHECK(str(d, "dev_eui") == "0101010101010101");
  CHECK(str(d, "tenant_name") == "ChirpStack");
  CHECK(str(d, "application_id") == "17c82e96-be03-4f38-aef3-f83d48582d97");
  CHECK(str(d, "device_name") == "Test device");
  CHECK(str(d, "device_profile_name") == "Test device-profile");
  CHECK(str(d, "source_format") == "chirpstack_v4");
  CHECK(str(d, "received_at") == "2026-11-27T10:00:00.500000Z");
  CHECK(d["raw"].IsObject());
  CHECK(d["raw"].HasMember("deviceInfo"));
}

}  // namespace

TEST_CASE("v4 up from the ChirpStack docs: omitted counters are zero, bytes stay base64") {
  auto p = parse_ok(fixture("v4_up_docs.json"), "up", "9b2f1c3e-5d4a-4e8b-a1c2-0f9e8d7c6b5a");
  const auto& d = p.doc;
  check_common_v4(d);
  CHECK(p.ev.event_type == "up");
  CHECK(p.ev.dedup_id == "3ac7e3c4-4401-4b8d-9386-a5c902f9202d");
  CHECK(p.ev.msg_id() == "up:3ac7e3c4-4401-4b8d-9386-a5c902f9202d");
  CHECK(p.ev.subject() == "dm.device.0101010101010101.up");
  CHECK(str(d, "device_id") == "9b2f1c3e-5d4a-4e8b-a1c2-0f9e8d7c6b5a");
  CHECK(str(d, "time") == "2022-07-18T09:34:15.775023Z");
  CHECK(str(d, "dev_addr") == "00189440");
  CHECK(integer(d, "f_port") == 1);
  CHECK(integer(d, "f_cnt") == 0);
  CHECK(integer(d, "dr") == 1);
  CHECK(d["confirmed"].IsFalse());
  CHECK(d["adr"].IsFalse());
  CHECK(str(d, "data") == "qg==");
  CHECK(is_null(d, "object"));
  CHECK(number(d, "rssi") == -36);
  CHECK(number(d, "snr") == 10.5);
  CHECK(integer(d, "gateway_count") == 1);
  const auto& rx = d["rx_info"][0];
  CHECK(str(rx, "gateway_id") == "0016c001f153a14c");
  CHECK(integer(rx, "uplink_id") == 4217106255LL);
  CHECK_FALSE(rx.HasMember("context"));
  CHECK(str(rx["metadata"], "region_common_name") == "EU868");
  CHECK(integer(d["tx_info"]["modulation"]["lora"], "spreading_factor") == 11);
  CHECK(str(d["tags"], "key") == "value");
}

TEST_CASE("v4 up, real capture (Dingtek 2022, pretty-printed) and Helium HPR shape") {
  auto p = parse_ok(fixture("v4_up_real_dingtek_2022.json"), "up");
  CHECK(p.ev.format == SourceFormat::chirpstack_v4);
  CHECK(p.ev.event_type == "up");
  CHECK(p.doc["device_id"].IsNull());
  CHECK(p.doc["gateway_count"].GetInt() >= 1);
  CHECK(p.doc["data"].IsString());

  auto h = parse_ok(fixture("v4_up_helium_hpr_mappers_fixture.json"));  // no ?event: inferred
  CHECK(h.ev.event_type == "up");
  CHECK(h.ev.dev_eui == "a84041000181c0de");
  CHECK(integer(h.doc, "f_cnt") == 42);
  CHECK(h.doc["confirmed"].IsFalse());
  CHECK(h.doc["adr"].IsTrue());
  CHECK(number(h.doc["object"], "latitude") == Approx(51.5072));
  CHECK(integer(h.doc, "gateway_count") == static_cast<std::int64_t>(h.doc["rx_info"].Size()));
  CHECK(number(h.doc, "rssi") == -95);  // the best of all gateways
  const auto& rx = h.doc["rx_info"][0];
  CHECK(str(rx, "gw_time") == "2026-10-09T16:43:50.712Z");
  CHECK(str(rx, "crc_status") == "CRC_OK");
  CHECK(str(rx["metadata"], "network") == "helium_iot");
}

TEST_CASE("v4 join, status, ack, txack, log, location") {
  auto join = parse_ok(fixture("v4_join_docs.json"), "join");
  check_common_v4(join.doc);
  CHECK(str(join.doc, "dev_addr") == "00189440");
  CHECK(join.ev.dedup_id == "c9dbe358-2578-4fb7-b295-66b44edc45a6");

  auto status = parse_ok(fixture("v4_status_docs.json"), "status");
  CHECK(number(status.doc, "battery_level") == Approx(88.3));
  CHECK(integer(status.doc, "margin") == 10);
  CHECK(status.doc["external_power"].IsFalse());
  REQUIRE(status.ev.battery_level);
  CHECK(*status.ev.battery_level == Approx(88.3));
  CHECK(status.doc["tags"].ObjectEmpty());

  auto ack = parse_ok(fixture("v4_ack_docs.json"), "ack");
  CHECK(ack.doc["acknowledged"].IsTrue());
  CHECK(integer(ack.doc, "f_cnt_down") == 3);
  CHECK(str(ack.doc, "queue_item_id") == "1bbcab1d-6ec6-4136-b3f5-d63be1dc08de");

  // txack and log carry no deduplicationId: the key is the body's SHA-256.
  std::string txack_body = fixture("v4_txack_docs.json");
  auto txack = parse_ok(txack_body, "txack");
  CHECK(txack.ev.dedup_id == sha256_hex(txack_body));
  CHECK(txack.ev.dedup_id.size() == 64);
  CHECK(integer(txack.doc, "f_cnt_down") == 2);
  CHECK(str(txack.doc, "gateway_id") == "0016c001f153a14c");
  CHECK(integer(txack.doc["tx_info"], "power") == 14);
  CHECK_FALSE(txack.doc["tx_info"].HasMember("context"));

  std::string log_body = fixture("v4_log_docs.json");
  auto log = parse_ok(log_body, "log");
  CHECK(log.ev.dedup_id == sha256_hex(log_body));
  CHECK(str(log.doc["log"], "level") == "error");
  CHECK(str(log.doc["log"], "code") == "UPLINK_MIC");
  CHECK(str(log.doc["log"]["context"], "deduplication_id") == "4e91db13-5ce3-4c8c-ab0f-dfc626cf0771");

  auto loc = parse_ok(fixture("v4_location_docs.json"), "location");
  CHECK(number(loc.doc["location"], "latitude") == Approx(37.344214));
  CHECK(number(loc.doc["location"], "altitude") == 2);
  CHECK(loc.doc["location"]["source"].IsNull());
}

TEST_CASE("the event type is inferred from the body when ?event is missing") {
  for (auto [file, type] : {std::pair{"v4_up_docs.json", "up"},
                            {"v4_join_docs.json", "join"},
                            {"v4_status_docs.json", "status"},
                            {"v4_ack_docs.json", "ack"},
                            {"v4_txack_docs.json", "txack"},
                            {"v4_log_docs.json", "log"},
                            {"v4_location_docs.json", "location"}}) {
    INFO(file);
    auto r = parse_chirpstack(fixture(file), "", kReceived);
    REQUIRE(r.ok());
    CHECK(r->event_type == type);
  }
  CHECK(parse_error(R"({"deviceInfo":{"devEui":"0101010101010101"}})").find("cannot infer") != std::string::npos);
}

TEST_CASE("v3 protobuf JSON: base64 devEUI and gatewayID, objectJSON string") {
  std::string body = fixture("v3_up_docs_protobuf_json.json");
  // The docs' payload is a literal "..." placeholder: rejected with a precise message.
  CHECK(parse_error(body, "up") == "field 'data' is not valid base64");
  auto pos = body.find("\"data\": \"...\"");
  REQUIRE(pos != std::string::npos);
  body.replace(pos, 13, "\"data\": \"AQID\"");
  auto p = parse_ok(body, "up");
  CHECK(p.ev.format == SourceFormat::chirpstack_v3);
  CHECK(str(p.doc, "source_format") == "chirpstack_v3");
  CHECK(p.ev.dev_eui == "0202020202020202");
  CHECK(p.ev.dedup_id == sha256_hex(body));
  CHECK(str(p.doc, "application_id") == "123");
  CHECK(str(p.doc, "device_name") == "garden-sensor");
  CHECK(p.doc["tenant_id"].IsNull());
  CHECK(integer(p.doc, "f_cnt") == 10);
  CHECK(integer(p.doc, "f_port") == 5);
  CHECK(str(p.doc, "data") == "AQID");
  CHECK(integer(p.doc["object"], "temperatureSensor") == 25);
  const auto& rx = p.doc["rx_info"][0];
  CHECK(str(rx, "gateway_id") == "0303030303030303");
  CHECK(str(rx, "uplink_id") == "8e1321f0-6aba-4403-8285-229b8bcdd11d");
  CHECK(number(rx, "snr") == 9);
  CHECK(number(p.doc, "snr") == 9);
  CHECK(integer(p.doc["tx_info"]["lora_modulation_info"], "spreading_factor") == 11);
  CHECK(parse_chirpstack(body, "", kReceived)->event_type == "up");
}

TEST_CASE("v3 legacy JSON: hex devEUI, object inline") {
  std::string body =
      R"({"applicationID":"1","applicationName":"weather","deviceName":"field-7","devEUI":"0004A30B001C0531",)"
      R"("rxInfo":[{"gatewayID":"0016c001ff10d3f6","rssi":-88,"loRaSNR":7.2}],"txInfo":{"frequency":867100000},)"
      R"("adr":true,"dr":3,"fCnt":17,"fPort":10,"data":"AQIDBA==","confirmedUplink":true,"devAddr":"01893865",)"
      R"("object":{"counter":4}})";
  auto p = parse_ok(body);
  CHECK(p.ev.format == SourceFormat::chirpstack_v3_legacy);
  CHECK(p.ev.event_type == "up");
  CHECK(p.ev.dev_eui == "0004a30b001c0531");
  CHECK(str(p.doc, "dev_addr") == "01893865");
  CHECK(p.doc["confirmed"].IsTrue());
  CHECK(integer(p.doc["object"], "counter") == 4);
  CHECK(str(p.doc["rx_info"][0], "gateway_id") == "0016c001ff10d3f6");
  CHECK(number(p.doc, "snr") == Approx(7.2));

  auto status = parse_ok(R"({"applicationID":"1","devEUI":"0004a30b001c0531","batteryLevel":50.5,"margin":7})");
  CHECK(status.ev.event_type == "status");
  CHECK(number(status.doc, "battery_level") == 50.5);
  auto err =
      parse_ok(R"({"applicationID":"1","devEUI":"0004a30b001c0531","type":"UPLINK_CODEC","error":"boom"})", "error");
  CHECK(err.ev.event_type == "log");
  CHECK(str(err.doc["log"], "code") == "UPLINK_CODEC");
}

TEST_CASE("bad bodies get precise messages") {
  CHECK(parse_error("{\"deviceInfo\": ").rfind("malformed JSON", 0) == 0);
  CHECK(parse_error("[1,2]") == "the body must be a JSON object");
  CHECK(parse_error(R"({"deduplicationId":"x"})").find("devEui is required") != std::string::npos);
  CHECK(parse_error(R"({"deviceInfo":{"tenantId":"t"}})", "up") == "field 'deviceInfo.devEui' is required");
  CHECK(parse_error(R"({"deviceInfo":{"devEui":"0101"}})", "up") ==
        "field 'deviceInfo.devEui' must be 16 hexadecimal digits");
  CHECK(parse_error(R"({"deviceInfo":{"devEui":"0101010101010101"},"data":"%%%"})", "up") ==
        "field 'data' is not valid base64");
  CHECK(parse_error(R"({"deviceInfo":{"devEui":"0101010101010101"},"fCnt":"x"})", "up") ==
        "field 'fCnt' must be an integer");
  CHECK(parse_error(R"({"deviceInfo":{"devEui":"0101010101010101"}})", "bogus").find("unknown event type 'bogus'") ==
        0);
  CHECK(parse_error(R"({"deviceInfo":{"devEui":"0101010101010101"}})", "up\xff\n") ==
        "unknown event type: expected up, join, status, ack, txack, log or location");
  CHECK(parse_error(R"({"devEUI":"not-base64!"})", "up") ==
        "field 'devEUI' must be 16 hex digits or base64 of 8 bytes");
  CHECK(parse_error(R"({"deviceInfo":{"devEui":"0101010101010101"},"rxInfo":[1]})", "up") ==
        "field 'rxInfo[0]' must be an object");
}

namespace {

// A v4 uplink whose deviceInfo members and top-level members after it are given as JSON text.
std::string v4(const std::string& device_info, const std::string& rest = R"("fPort":1)") {
  return R"({"deduplicationId":"3ac7e3c4-4401-4b8d-9386-a5c902f9202d","deviceInfo":{"devEui":"0101010101010101",)" +
         device_info + "}," + rest + "}";
}

}  // namespace

TEST_CASE("poison that PostgreSQL would refuse later is refused at the edge") {
  // invalid UTF-8 (the bytes \xff\xfe inside the device name), anywhere in the body
  CHECK(parse_error(v4("\"deviceName\":\"ab\xff\xfe\"")) ==
        "invalid UTF-8 in the value at 'deviceInfo.deviceName' (offset 116)");
  CHECK(parse_error(v4("\"deviceName\":\"n\"", "\"object\":{\"note\":\"\xc3\"}"))
            .find("invalid UTF-8 in the value at "
                  "'object.note'") == 0);
  // NUL anywhere: jsonb (the history reads, the flows) cannot hold it
  CHECK(parse_error(R"({"deduplicationId":"a\u0000b","deviceInfo":{"devEui":"0101010101010101"},"fPort":1})") ==
        "a NUL character (\\u0000) in the value at 'deduplicationId' (offset 29)");
  CHECK(parse_error(v4(R"("deviceName":"n")", R"("object":{"t":[1,"\u0000"]})")).find("'object.t[1]'") !=
        std::string::npos);
  CHECK(parse_error(v4(R"("deviceName":"n")", R"("object":{"k\u0000":1})")).find("a key of the object at 'object'") !=
        std::string::npos);
  // a \u escape of a lone surrogate would be invalid UTF-8 once decoded
  CHECK(parse_error(v4(R"("deviceName":"\udc00")"))
            .find("lone UTF-16 surrogate in the value at 'deviceInfo.deviceName'") != std::string::npos);
  // NUL bytes after the body: the reader stopped there, but `raw` would have kept them
  CHECK(parse_error(v4(R"("deviceName":"n")") + std::string(3, '\0')).find("a NUL byte after the value") !=
        std::string::npos);
  // a byte order mark, or a stray byte of one, before the body
  CHECK(parse_error("\xEF\xBB\xBF" + v4(R"("deviceName":"n")")).find("byte order mark") != std::string::npos);
  CHECK(parse_error("\xEF" + v4(R"("deviceName":"n")")).rfind("malformed JSON at offset 0", 0) == 0);
  // a key named twice: which value counts?
  CHECK(parse_error(v4(R"("devEui":"0202020202020202")")) ==
        "duplicate key 'devEui' in the object at 'deviceInfo' (offset 108)");
  CHECK(parse_error(v4(R"("deviceName":"n")", R"("fPort":1,"fPort":2)"))
            .find("duplicate key 'fPort' in the top-level "
                  "object") == 0);
  // v3's objectJSON is parsed with the same rules
  CHECK(parse_error(R"({"devEUI":"0004a30b001c0531","fPort":1,"objectJSON":"{\"a\":1,\"a\":2}"})") ==
        "field 'objectJSON' must be a JSON object encoded as a string: duplicate key 'a' in the top-level object "
        "(offset 10)");
  CHECK(parse_error(R"({"devEUI":"0004a30b001c0531","fPort":1,"objectJSON":"{\"a\":\"\\u0000\"}"})").find("NUL") !=
        std::string::npos);
}

TEST_CASE("names and ids must not carry control characters; free text may") {
  CHECK(parse_error(v4(R"("deviceName":"bad\u0007name")")) ==
        "field 'deviceInfo.deviceName' must not contain control characters (U+0007 at byte 3)");
  CHECK(parse_error(v4(R"("tenantName":"a\tb")")) ==
        "field 'deviceInfo.tenantName' must not contain control characters (U+0009 at byte 1)");
  CHECK(parse_error(v4("\"applicationName\":\"del\x7f\"")).find("'deviceInfo.applicationName'") != std::string::npos);
  for (const char* field : {"tenantId", "applicationId", "deviceProfileId", "deviceProfileName"}) {
    INFO(field);
    CHECK(parse_error(v4("\"" + std::string(field) + R"(":"x\ny")")) ==
          "field 'deviceInfo." + std::string(field) + "' must not contain control characters (U+000A at byte 1)");
  }
  CHECK(parse_error(v4(R"("tags":{"site":"a\rb"})")) ==
        "field 'deviceInfo.tags.site' must not contain control characters (U+000D at byte 1)");
  CHECK(parse_error(v4(R"("tags":{"si\u001bte":"a"})")) ==
        "field 'deviceInfo.tags' must not have keys with control characters (U+001B)");
  CHECK(parse_error(v4(R"("deviceName":"n")", R"("rxInfo":[{"gatewayId":"gw\n1"}])")) ==
        "field 'rxInfo[0].gatewayId' must not contain control characters (U+000A at byte 2)");
  // v3: names at the top level
  CHECK(parse_error(R"({"devEUI":"0004a30b001c0531","fPort":1,"deviceName":"a\u0000"})").find("NUL") !=
        std::string::npos);
  CHECK(parse_error(R"({"devEUI":"0004a30b001c0531","fPort":1,"applicationID":"1\n"})") ==
        "field 'applicationID' must not contain control characters (U+000A at byte 1)");
  CHECK(parse_error(R"({"devEUI":"0004a30b001c0531","fPort":1,"tags":{"k":"\u0001"}})") ==
        "field 'tags.k' must not contain control characters (U+0001 at byte 0)");
  // a log's description is free text inside the document: kept, escaped by JSON
  auto log = parse_ok(v4(R"("deviceName":"n")", R"("level":"ERROR","code":"X","description":"line 1\nline 2")"), "log");
  CHECK(str(log.doc["log"], "description") == "line 1\nline 2");
  // non-ASCII names are fine
  CHECK(parse_ok(v4("\"deviceName\":\"K\xc3\xbchlraum \xe2\x84\x96"
                    "3\""))
            .ev.device_name ==
        "K\xc3\xbchlraum \xe2\x84\x96"
        "3");
}

TEST_CASE("deduplicationId: ChirpStack's UUIDs and other safe ids, nothing else") {
  for (const std::string& id : std::vector<std::string>{"3ac7e3c4-4401-4b8d-9386-a5c902f9202d", "a1", "urn:dm:up.42_x",
                                                        std::string(kMaxDedupId, 'x')}) {
    INFO(id);
    CHECK(parse_ok(R"({"deduplicationId":")" + id + R"(","deviceInfo":{"devEui":"0101010101010101"},"fPort":1})")
              .ev.dedup_id == id);
  }
  const std::string expected =
      "field 'deduplicationId' must be at most 128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'";
  for (std::string id : {std::string("a b"), std::string("a\\nb"), std::string("a/b"), std::string("\\u00e9"),
                         std::string("x\\r\\nNats-Msg-Id: forged"), std::string(kMaxDedupId + 1, 'x')}) {
    INFO(id);
    CHECK(parse_error(R"({"deduplicationId":")" + id + R"(","deviceInfo":{"devEui":"0101010101010101"},"fPort":1})") ==
          expected);
  }
  CHECK(parse_error(R"({"deduplicationId":7,"deviceInfo":{"devEui":"0101010101010101"},"fPort":1})") ==
        "field 'deduplicationId' must be a string");
  // unset (protobuf JSON omits it; an empty string is the same): the body's hash keys the event
  std::string body = R"({"deduplicationId":"","deviceInfo":{"devEui":"0101010101010101"},"fPort":1})";
  CHECK(parse_ok(body).ev.dedup_id == sha256_hex(body));
  CHECK(valid_dedup_id("A-z.0_9:"));
  CHECK_FALSE(valid_dedup_id(""));
}

TEST_CASE("the normalised message names every key once, though two body keys map to one") {
  auto p =
      parse_ok(v4(R"("deviceName":"n")",
                  R"("fPort":1,"rxInfo":[{"gatewayId":"gw-a","gateway_id":"forged","rssi":-1,"crcStatus":"A",)"
                  R"("crc_status":"B"}],"txInfo":{"fooBar":1,"foo_bar":2,"modulation":{"loRa":{"spreadingFactor":7,)"
                  R"("spreading_factor":8}}})"));
  std::string message = to_message(p.ev, std::nullopt);
  REQUIRE(json::parse(message, {.max_bytes = 1 << 20, .max_depth = 128, .refuse_duplicate_keys = true}).ok());
  CHECK(str(p.doc["rx_info"][0], "gateway_id") == "gw-a");  // ours first
  CHECK(str(p.doc["rx_info"][0], "crc_status") == "A");     // then the body's order
  CHECK(integer(p.doc["tx_info"], "foo_bar") == 1);
  CHECK(integer(p.doc["tx_info"]["modulation"]["lora"], "spreading_factor") == 7);
  auto v3 = parse_ok(R"({"devEUI":"AgICAgICAgI=","fPort":1,"rxInfo":[{"gatewayID":"AwMDAwMDAwM=","loRaSNR":9,"snr":1,)"
                     R"("uplinkID":"jhMh8Gq6RAOChSKbi83RHQ==","uplink_id":"x"}]})");
  CHECK(number(v3.doc["rx_info"][0], "snr") == 9);
  CHECK(str(v3.doc["rx_info"][0], "uplink_id") == "8e1321f0-6aba-4403-8285-229b8bcdd11d");
  std::string v3_message = to_message(v3.ev, std::nullopt);
  CHECK(json::parse(v3_message, {.max_bytes = 1 << 20, .max_depth = 128, .refuse_duplicate_keys = true}).ok());
}

TEST_CASE("optional members with the wrong type are refused whatever the event") {
  CHECK(parse_error(R"({"deviceInfo":"0101010101010101","fPort":1})") == "field 'deviceInfo' must be an object");
  CHECK(parse_error(v4(R"("tags":"site=a")")) == "field 'deviceInfo.tags' must be an object");
  CHECK(parse_error(v4(R"("tags":["a"])")) == "field 'deviceInfo.tags' must be an object");
  CHECK(parse_error(v4(R"("tags":{"floor":3})")) == "field 'deviceInfo.tags.floor' must be a string");
  CHECK(parse_error(R"({"devEUI":"0004a30b001c0531","fPort":1,"tags":[]})") == "field 'tags' must be an object");
  // members this event type does not read
  CHECK(parse_error(v4(R"("deviceName":"n")", R"("devAddr":"00189440","object":"x")"), "join") ==
        "field 'object' must be an object");
  CHECK(parse_error(v4(R"("deviceName":"n")", R"("margin":1,"rxInfo":{})"), "status") ==
        "field 'rxInfo' must be an array");
  CHECK(parse_error(v4(R"("deviceName":"n")", R"("margin":1,"rxInfo":[{},"gw"])"), "status") ==
        "field 'rxInfo[1]' must be an object");
  CHECK(parse_error(v4(R"("deviceName":"n")", R"("acknowledged":true,"txInfo":[])"), "ack") ==
        "field 'txInfo' must be an object");
  CHECK(parse_error(v4(R"("deviceName":"n")", R"("fPort":1,"location":[1,2])")) ==
        "field 'location' must be an object");
  CHECK(parse_error(R"({"devEUI":"0004a30b001c0531","fPort":1,"objectJSON":{}})") ==
        "field 'objectJSON' must be a string");
  // null is unset, as protobuf JSON means it
  CHECK(parse_ok(v4(R"("tags":null)", R"("fPort":1,"object":null,"rxInfo":null,"txInfo":null)"))
            .doc["tags"]
            .ObjectEmpty());
}

TEST_CASE("every fixture, here and in shared/fixtures/chirpstack, is still accepted") {
  std::vector<std::string> dirs = {DM_INGEST_FIXTURES};
  // The shared originals sit beside the checkout (CI lays them there too); the copies here are
  // the same bodies, so a missing folder loses nothing.
  if (std::filesystem::is_directory(testing::source_dir() + "/../shared/fixtures/chirpstack"))
    dirs.push_back(testing::source_dir() + "/../shared/fixtures/chirpstack");
  std::size_t accepted = 0;
  for (const auto& dir : dirs) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".json") continue;
      INFO(entry.path().string());
      std::string body = testing::read_text(entry.path().string());
      // The docs' v3 payload is a literal "..." placeholder (refused as base64, tested above).
      if (auto at = body.find("\"data\": \"...\""); at != std::string::npos) body.replace(at, 13, "\"data\": \"AQID\"");
      auto doc = json::parse(body);
      REQUIRE(doc.ok());
      if (entry.path().filename() == "v4_ack_txack_location_docs.json") {
        // Three bodies in one file, one per event type.
        for (const auto& m : doc->GetObject()) {
          parse_ok(json::to_string(m.value), std::string(json::view(m.name)));
          ++accepted;
        }
      } else {
        parse_ok(body);
        ++accepted;
      }
    }
  }
  CHECK(accepted >= 13);
}

TEST_CASE("codec helpers") {
  CHECK(base64_decode("qg==") == std::optional<std::string>("\xaa"));
  CHECK(base64_decode("qg") == std::optional<std::string>("\xaa"));
  CHECK_FALSE(base64_decode("q"));
  CHECK_FALSE(base64_decode("qg=").has_value());
  CHECK(base64_encode(*base64_decode("AQIDBA==")) == "AQIDBA==");
  CHECK(snake_case("spreadingFactor") == "spreading_factor");
  CHECK(snake_case("loRaSNR") == "lora_snr");
  CHECK(snake_case("loRaModulationInfo") == "lora_modulation_info");
  CHECK(snake_case("gatewayID") == "gateway_id");
  CHECK(snake_case("timeSinceGPSEpoch") == "time_since_gps_epoch");
  CHECK(snake_case("region_name") == "region_name");
}

TEST_CASE("every parsed fixture validates against proto/schemas/device-event.schema.json") {
  std::string v3 = fixture("v3_up_docs_protobuf_json.json");
  v3.replace(v3.find("\"data\": \"...\""), 13, "\"data\": \"AQID\"");
  std::vector<std::pair<std::string, std::string>> bodies = {
      {"v4_up_docs.json", fixture("v4_up_docs.json")},
      {"v4_up_real_dingtek_2022.json", fixture("v4_up_real_dingtek_2022.json")},
      {"v4_up_helium_hpr_mappers_fixture.json", fixture("v4_up_helium_hpr_mappers_fixture.json")},
      {"v4_join_docs.json", fixture("v4_join_docs.json")},
      {"v4_status_docs.json", fixture("v4_status_docs.json")},
      {"v4_ack_docs.json", fixture("v4_ack_docs.json")},
      {"v4_txack_docs.json", fixture("v4_txack_docs.json")},
      {"v4_log_docs.json", fixture("v4_log_docs.json")},
      {"v4_location_docs.json", fixture("v4_location_docs.json")},
      {"v3 (data fixed)", v3}};
  for (const auto& [name, body] : bodies) {
    for (std::optional<std::string> id :
         {std::optional<std::string>(), std::optional<std::string>("9b2f1c3e-5d4a-4e8b-a1c2-0f9e8d7c6b5a")}) {
      INFO(name);
      auto p = parse_ok(body, "", id);
      auto message = to_message(p.ev, id);
      auto why = testing::proto::schema_violation("device-event", message);
      INFO(why.value_or(""));
      CHECK_FALSE(why);
      // And its consumers read it (libs/contract's decoder).
      auto read = contract::decode_device_event(message);
      INFO((read ? std::string() : read.error().message));
      REQUIRE(read.ok());
      CHECK(contract::to_string(read->event_type) == p.ev.event_type);
      CHECK(read->device_id == id);
    }
  }
}
