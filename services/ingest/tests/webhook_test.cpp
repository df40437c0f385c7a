// The webhook over real HTTP on ingest's own port, with the registry and the gateway running:
// auth, durable dedup (one history row, one message), rejected bodies publish nothing,
// unknown devices, online/offline/battery state pushed to the registry, and the history
// endpoints through the gateway.
#include "dm/contract/device_event.hpp"
#include "dm/contract/subjects.hpp"
#include "ingest_fixture.hpp"

using namespace dm;
using namespace dm::test;

namespace {

testing::Stack& stack() {
  static testing::Stack s({"registry", "gateway", "ingest"}, {{"INGEST_SECRET", kSecret},
                                                              {"INGEST_STATE_FLUSH_INTERVAL", "100ms"},
                                                              {"INGEST_OFFLINE_CHECK_INTERVAL", "100ms"},
                                                              {"INGEST_OFFLINE_TIME_UNIT", "1s"},
                                                              {"INGEST_OFFLINE_GRACE", "0ms"},
                                                              {"INGEST_UNKNOWN_CACHE_TTL", "300ms"}});
  return s;
}

std::int64_t history_count(Api& api, const std::string& device_id, const std::string& query = "") {
  auto r = api.get("/api/v1/devices/" + device_id + "/history" + query);
  REQUIRE(r.status == 200);
  return std::stoll(r.headers.get("X-Total-Count").value_or("-1"));
}

}  // namespace

TEST_CASE("the webhook needs the shared secret, compared exactly") {
  Api api(stack());
  Webhook hook(stack());
  auto eui = new_eui();
  auto id = api.create_device(eui, "auth-" + eui);
  Counter published(stack(), "dm.device." + eui + ".>");

  CHECK(hook.post(uplink(eui, "a1"), "up", {{"X-No-Auth", "1"}}).status == 401);
  CHECK(hook.post(uplink(eui, "a2"), "up", {{"Authorization", "Bearer " + kSecret + "x"}}).status == 401);
  CHECK(hook.post(uplink(eui, "a3"), "up", {{"Authorization", "Bearer " + kSecret.substr(1)}}).status == 401);
  CHECK(hook.post(uplink(eui, "a4"), "up", {{"Authorization", "Basic " + kSecret}}).status == 401);
  CHECK(hook.post(uplink(eui, "a5"), "up", {{"X-API-Key", "wrong"}}).status == 401);
  auto denied = hook.post(uplink(eui, "a6"), "up", {{"X-No-Auth", "1"}});
  CHECK(denied.headers.get("WWW-Authenticate") == std::optional<std::string>("Bearer"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(published.count() == 0);

  auto ok1 = hook.post(uplink(eui, "a7"), "up", {{"X-API-Key", kSecret}});
  CHECK(ok1.status == 200);
  auto ok2 = hook.post(uplink(eui, "a8"), "up", {{"Authorization", "bearer " + kSecret}});
  CHECK(ok2.status == 200);
  CHECK(ok2.str("device_id") == id);
  CHECK(published.wait_for(2));
}

TEST_CASE("the same event twice: one message on dm.device.*.up and one history row") {
  Api api(stack());
  Webhook hook(stack());
  auto eui = new_eui();
  auto id = api.create_device(eui, "dup-" + eui);
  Counter ups(stack(), "dm.device." + eui + ".up");
  std::string body = uplink(eui, "dup-" + eui);

  auto first = hook.post(body);
  REQUIRE(first.status == 200);
  CHECK(first.str("status") == "accepted");
  CHECK(first.json["duplicate"].IsFalse());
  auto second = hook.post(body);
  REQUIRE(second.status == 200);
  CHECK(second.str("status") == "duplicate");
  CHECK(second.json["duplicate"].IsTrue());
  // The same payload as another event type is another event.
  CHECK(hook.post(body, "join").str("status") == "accepted");

  REQUIRE(eventually([&] { return history_count(api, id) == 2; }));
  // The tap goes out on core NATS after the PubAck, apart from the history row: waited for
  // too, then half a second for a second copy of either to show.
  REQUIRE(ups.wait_for(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(history_count(api, id) == 2);
  CHECK(history_count(api, id, "?event_type=up") == 1);
  const auto taps = ups.messages();  // this device's up subject only
  for (const auto& m : taps) {
    auto doc = json::parse(m.data);
    REQUIRE(doc.ok());
    CHECK(std::string(json::view((*doc)["dedup_id"])) == "dup-" + eui);
    CHECK(std::string(json::view((*doc)["device_id"])) == id);
    CHECK(std::string(json::view((*doc)["event_type"])) == "up");
  }
  CHECK(taps.size() == 1);

  // The stored event reaches the history writer again in another stream message, as after a
  // crash between its commit and its ack, or a repeat another ingest replica stored: its
  // batch COPY meets the stored row, the batch goes again as INSERT ... ON CONFLICT DO
  // NOTHING, and the event beside it is stored.
  bus::Options o;
  o.url = stack().nats().url();
  auto nats = bus::Connection::connect(o);
  REQUIRE(nats.ok());
  REQUIRE(!taps.empty());
  const std::string stored = taps.front().data;
  std::string fresh = stored;  // another deduplication id: a new event
  for (auto at = fresh.find("dup-" + eui); at != std::string::npos; at = fresh.find("dup-" + eui))
    fresh.replace(at, 4, "new-");
  contract::BatchWriter batch;
  batch.add("dm.device." + eui + ".up", stored);
  batch.add("dm.device." + eui + ".up", fresh);
  REQUIRE((*nats)
              ->jetstream()
              .publish(contract::subject::event_batch("up"), batch.take(), "again-" + eui, std::chrono::seconds(5))
              .ok());
  REQUIRE(eventually([&] { return history_count(api, id) == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(history_count(api, id, "?event_type=up") == 2);
  // Stored without a failed batch: the repeat did not stop the writer.
  CHECK(testing::metric_value(stack(), "ingest", "dm_ingest_history_failures_total") == 0);
}

TEST_CASE("bad bodies get 400/413/415 with a precise message and publish nothing") {
  Api api(stack());
  Webhook hook(stack());
  auto eui = new_eui();
  api.create_device(eui, "bad-" + eui);
  Counter published(stack(), "dm.device.>");

  auto malformed = hook.post("{\"deviceInfo\": {\"devEui\": \"" + eui + "\"");
  CHECK(malformed.status == 400);
  CHECK(malformed.str("detail").rfind("malformed JSON", 0) == 0);
  auto missing = hook.post(R"({"deduplicationId":"x","deviceInfo":{"deviceName":"n"}})");
  CHECK(missing.status == 400);
  CHECK(missing.str("detail") == "field 'deviceInfo.devEui' is required");
  std::string bad64 = uplink(eui, "b64");
  bad64.replace(bad64.find("\"AQID\""), 6, "\"A*ID\"");
  auto base64 = hook.post(bad64);
  CHECK(base64.status == 400);
  CHECK(base64.str("detail") == "field 'data' is not valid base64");
  auto unknown_type = hook.post(uplink(eui, "t"), "bogus");
  CHECK(unknown_type.status == 400);
  std::string huge = uplink(eui, "huge");
  huge.insert(huge.size() - 1, ",\"pad\":\"" + std::string(1 << 20, 'x') + "\"");
  CHECK(hook.post(huge).status == 413);
  // ChirpStack configured for protobuf, or anything else that is not JSON: 415.
  auto protobuf = hook.post(uplink(eui, "pb"), "up", {{"Content-Type", "application/octet-stream"}});
  CHECK(protobuf.status == 415);
  CHECK(hook.post(uplink(eui, "txt"), "up", {{"Content-Type", "text/plain"}}).status == 415);
  CHECK(hook.post(uplink(eui, "cs"), "up", {{"Content-Type", "application/json; charset=utf-8"}}).status == 200);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(published.wait_for(1));  // only the JSON with a charset
  CHECK(published.count() == 1);
}

TEST_CASE("poison PostgreSQL would refuse later gets 400 now, publishes nothing and jams nothing") {
  Api api(stack());
  Webhook hook(stack());
  auto eui = new_eui();
  auto id = api.create_device(eui, "poison-" + eui);
  Counter published(stack(), "dm.device.>");

  struct Case {
    std::string body, detail;
  };
  std::string dup_key = uplink(eui, "p-dup");
  dup_key.insert(dup_key.find("\"devAddr\""), "\"fPort\":3,");
  const std::vector<Case> cases = {
      {uplink(eui, "p-utf8", 1, "ab\xff\xfe"), "invalid UTF-8 in the value at 'deviceInfo.deviceName'"},
      {uplink(eui, "p\\u0000nul"), "a NUL character (\\u0000) in the value at 'deduplicationId'"},
      {uplink(eui, "p-bell", 1, "bell\\u0007"), "field 'deviceInfo.deviceName' must not contain control characters"},
      {uplink(eui, "p space"), "field 'deduplicationId' must be at most 128 characters"},
      {dup_key, "duplicate key 'fPort' in the top-level object"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto r = hook.post(c.body);
    CHECK(r.status == 400);
    CHECK(r.str("detail").rfind(c.detail, 0) == 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(published.count() == 0);
  // The pipeline behind is not jammed: the next good event is stored, and nothing else.
  CHECK(hook.post(uplink(eui, "p-good-" + eui)).status == 200);
  REQUIRE(eventually([&] { return history_count(api, id) == 1; }));
  // The tap goes out on core NATS after the PubAck, on its own path: the history row can be
  // readable before the collector has it.
  CHECK(published.wait_for(1));
  CHECK(published.count() == 1);
  CHECK(testing::metric_value(stack(), "ingest", "dm_ingest_history_failures_total") == 0);
}

TEST_CASE("an unregistered dev_eui is rejected with 404 by default") {
  Webhook hook(stack());
  Counter published(stack(), "dm.device.>");
  auto eui = new_eui();
  auto r = hook.post(uplink(eui, "u1"));
  CHECK(r.status == 404);
  CHECK(r.str("detail").find(eui) != std::string::npos);
  CHECK(hook.post(uplink(eui, "u2")).status == 404);  // from the negative cache
  // Registered afterwards: accepted (the change event drops the negative entry).
  Api api(stack());
  api.create_device(eui, "late-" + eui);
  CHECK(eventually([&] { return hook.post(uplink(eui, "u3-" + std::to_string(std::rand()))).status == 200; }));
  CHECK(published.wait_for(1));
}

TEST_CASE("device state: online on the first event, battery from status, offline after silence") {
  Api api(stack());
  Webhook hook(stack());
  auto eui = new_eui();
  auto id = api.create_device(eui, "state-" + eui, 1);  // expected every "minute" (1 s in this stack)
  Counter states(stack(), "dm.devstate." + eui);
  CHECK(api.get("/api/v1/devices/" + id).str("status") == "never_seen");

  REQUIRE(hook.post(uplink(eui, "s1")).status == 200);
  REQUIRE(states.wait_for(1));
  auto online = json::parse(states.messages()[0].data);
  REQUIRE(online.ok());
  CHECK(std::string(json::view((*online)["state"])) == "online");
  CHECK(std::string(json::view((*online)["previous_state"])) == "never_seen");
  CHECK(std::string(json::view((*online)["reason"])) == "uplink");
  CHECK(eventually([&] { return api.get("/api/v1/devices/" + id).str("status") == "online"; }));
  auto device = api.get("/api/v1/devices/" + id);
  CHECK(device.json["last_seen_at"].IsString());

  REQUIRE(hook.post(status_event(eui, "st1", 42.5), "status").status == 200);
  CHECK(eventually([&] {
    auto d = api.get("/api/v1/devices/" + id);
    const auto* b = json::find(d.json, "battery_level");
    return b && b->IsNumber() && b->GetDouble() == 42.5;
  }));

  // Silent for longer than 1 unit + 0 grace: offline, announced with reason timeout.
  REQUIRE(states.wait_for(2, std::chrono::seconds(5)));
  auto offline = json::parse(states.messages()[1].data);
  REQUIRE(offline.ok());
  CHECK(std::string(json::view((*offline)["state"])) == "offline");
  CHECK(std::string(json::view((*offline)["reason"])) == "timeout");
  CHECK(eventually([&] { return api.get("/api/v1/devices/" + id).str("status") == "offline"; }));

  // The next event brings it back.
  REQUIRE(hook.post(uplink(eui, "s2")).status == 200);
  REQUIRE(states.wait_for(3));
  auto back = json::parse(states.messages()[2].data);
  CHECK(std::string(json::view((*back)["previous_state"])) == "offline");
}

TEST_CASE("history through the gateway: filtered by type and time, paged, newest first") {
  Api api(stack());
  Webhook hook(stack());
  auto eui = new_eui();
  auto id = api.create_device(eui, "hist-" + eui);
  auto other = new_eui();
  auto other_id = api.create_device(other, "hist-other-" + other);
  for (int i = 1; i <= 5; ++i) {
    REQUIRE(hook.post(uplink(eui, "h-up-" + eui + std::to_string(i), i)).status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(hook.post(status_event(eui, "h-st-" + eui, 80), "status").status == 200);
  REQUIRE(
      hook.post(fixture("v4_join_docs.json").replace(fixture("v4_join_docs.json").find("0101010101010101"), 16, eui),
                "join")
          .status == 200);
  REQUIRE(hook.post(uplink(other, "h-o-" + other)).status == 200);
  REQUIRE(eventually([&] { return history_count(api, id) == 7; }));

  auto ups = api.get("/api/v1/devices/" + id + "/history?event_type=up&limit=2");
  REQUIRE(ups.status == 200);
  CHECK(ups.headers.get("X-Total-Count") == std::optional<std::string>("5"));
  REQUIRE(ups.json.IsArray());
  REQUIRE(ups.json.Size() == 2);
  CHECK(ups.json[0]["f_cnt"].GetInt() == 5);  // newest first
  CHECK(ups.json[1]["f_cnt"].GetInt() == 4);
  CHECK(std::string(json::view(ups.json[0]["device_id"])) == id);
  CHECK(std::string(json::view(ups.json[0]["data"])) == "AQID");
  CHECK(ups.json[0]["object"]["t"].GetDouble() == 21.5);
  CHECK(ups.json[0]["rssi"].GetDouble() == -40);
  CHECK_FALSE(ups.json[0]["event"].HasMember("raw"));
  auto page2 = api.get("/api/v1/devices/" + id + "/history?event_type=up&limit=2&skip=2");
  REQUIRE(page2.json.Size() == 2);
  CHECK(page2.json[0]["f_cnt"].GetInt() == 3);

  // Time range: everything received from the third uplink on, before the status event.
  std::string third(json::view(ups.json[0]["received_at"]));  // newest up = 5th
  auto all = api.get("/api/v1/devices/" + id + "/history?limit=100");
  REQUIRE(all.json.Size() == 7);
  std::string t5(json::view(all.json[2]["received_at"]));
  CHECK(t5 == third);
  auto until_5 = api.get("/api/v1/devices/" + id + "/history?to=" + http::percent_encode(t5));
  CHECK(until_5.headers.get("X-Total-Count") == std::optional<std::string>("4"));
  auto from_5 = api.get("/api/v1/devices/" + id + "/history?from=" + http::percent_encode(t5));
  CHECK(from_5.headers.get("X-Total-Count") == std::optional<std::string>("3"));

  auto statuses = api.get("/api/v1/devices/history?event_type=status&limit=1000");
  bool found = false;
  for (const auto& e : statuses.json.GetArray()) {
    CHECK(std::string(json::view(e["event_type"])) == "status");
    if (json::view(e["dev_eui"]) == eui) found = true;
  }
  CHECK(found);
  // Written by the history consumer in its own batches: the other device's event may land in
  // a later batch than this device's seven.
  CHECK(eventually([&] { return history_count(api, other_id) == 1; }));

  CHECK(api.get("/api/v1/devices/" + id + "/history?event_type=nope").status == 422);
  CHECK(api.get("/api/v1/devices/" + id + "/history?from=yesterday").status == 422);
  CHECK(api.get("/api/v1/devices/not-a-uuid/history").status == 404);
}

TEST_CASE("readiness reports the device cache") {
  Webhook hook(stack());
  auto r = hook.get("/readyz");
  CHECK(r.status == 200);
  CHECK(r.json["checks"]["device_cache"] == "ok");
}

TEST_CASE("the same router answers over NATS (dm.rpc.ingest), as the gateway forwards it") {
  Api api(stack());
  auto eui = new_eui();
  auto id = api.create_device(eui, "rpc-" + eui);
  bus::Options o;
  o.url = stack().nats().url();
  auto nats = bus::Connection::connect(o);
  REQUIRE(nats.ok());
  auto call = [&](bus::Headers extra) {
    bus::Headers h = {{"Dm-Method", "POST"},
                      {"Dm-Target", "/api/v1/ingest/chirpstack?event=up"},
                      {"Content-Type", "application/json"}};
    h.insert(h.end(), extra.begin(), extra.end());
    auto r = (*nats)->request("dm.rpc.ingest.gateway", uplink(eui, "rpc-" + eui), std::chrono::seconds(5), h);
    REQUIRE(r.ok());
    return *r;
  };
  // Without the secret (what the gateway sends until it passes Authorization/X-API-Key on).
  CHECK(call({}).header("Dm-Status") == std::optional<std::string>("401"));
  auto ok = call({{"X-API-Key", kSecret}});
  CHECK(ok.header("Dm-Status") == std::optional<std::string>("200"));
  CHECK(ok.data.find(id) != std::string::npos);
}
