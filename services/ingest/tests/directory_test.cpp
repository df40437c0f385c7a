// The device directory (cache + connectivity state) and the repeat guard, without servers.
#include "directory.hpp"

#include <catch2/catch.hpp>

#include "dm/json/json.hpp"
#include "recent_ids.hpp"

using namespace dm;
using namespace dm::ingest;
using namespace std::chrono_literals;

namespace {

const char* kList = R"([
  {"id":"11111111-1111-4111-8111-111111111111","dev_eui":"AAAAAAAAAAAAAAA1","name":"one","status":"never_seen",
   "expected_transmit_time":10,"last_seen_at":null,"version":1,"labels":[]},
  {"id":"22222222-2222-4222-8222-222222222222","dev_eui":"aaaaaaaaaaaaaaa2","name":"two","status":"maintenance",
   "expected_transmit_time":1,"last_seen_at":"2026-11-27T09:00:00.000001+00:00","version":3,"labels":[]}
])";

SysTime at(const char* text) { return *parse_rfc3339(text); }

}  // namespace

TEST_CASE("directory: load, lookups, negative cache") {
  Directory d(100ms);
  CHECK_FALSE(d.loaded());
  REQUIRE(d.load(kList).ok());
  CHECK(d.loaded());
  CHECK(d.size() == 2);
  auto hit = d.find("aaaaaaaaaaaaaaa1");  // stored lower case
  REQUIRE(hit);
  CHECK(hit->name == "one");
  CHECK_FALSE(d.find("ffffffffffffffff"));
  auto now = std::chrono::steady_clock::now();
  d.remember_unknown("ffffffffffffffff", now);
  CHECK(d.known_unknown("ffffffffffffffff", now + 50ms));
  CHECK_FALSE(d.known_unknown("ffffffffffffffff", now + 150ms));
  CHECK_FALSE(d.load("{").ok());
}

TEST_CASE("directory: online on first event, offline after silence, maintenance untouched") {
  Directory d(1s);
  REQUIRE(d.load(kList).ok());
  auto change = d.seen("aaaaaaaaaaaaaaa1", at("2026-11-27T10:00:00Z"), 77.0);
  REQUIRE(change);
  CHECK(change->state == contract::DeviceState::online);
  CHECK(change->previous_state == contract::DeviceState::never_seen);
  CHECK_FALSE(d.seen("aaaaaaaaaaaaaaa1", at("2026-11-27T10:00:05Z"), std::nullopt));  // already online
  CHECK_FALSE(d.seen("aaaaaaaaaaaaaaa2", at("2026-11-27T10:00:05Z"), std::nullopt));  // maintenance stays

  auto pending = d.take_pending();
  REQUIRE(pending.size() == 2);
  const auto& p1 = pending.at("11111111-1111-4111-8111-111111111111");
  CHECK(p1.status == contract::DeviceState::online);
  CHECK(p1.battery_level == std::optional<double>(77.0));
  CHECK(format_rfc3339(*p1.last_seen) == "2026-11-27T10:00:05.000000Z");
  auto body = json::parse(state_batch_json(pending));
  REQUIRE(body.ok());
  CHECK((*body)["devices"].Size() == 2);
  CHECK(d.take_pending().empty());

  // 10 units of 1 min + 0 grace: not yet at 10:09, offline at 10:11.
  CHECK(d.expire(at("2026-11-27T10:09:00Z"), 60s, 0s).empty());
  auto offline = d.expire(at("2026-11-27T10:11:00Z"), 60s, 0s);
  REQUIRE(offline.size() == 1);
  CHECK(offline[0].state == contract::DeviceState::offline);
  CHECK(offline[0].reason == contract::StateReason::timeout);
  auto json_change = json::parse(contract::encode(offline[0]));
  REQUIRE(json_change.ok());
  CHECK(std::string(json::view((*json_change)["previous_state"])) == "online");
  CHECK(d.expire(at("2026-11-27T10:12:00Z"), 60s, 0s).empty());  // announced once

  // A failed push is handed back; newer values win.
  auto batch = d.take_pending();
  REQUIRE(batch.size() == 1);
  d.seen("aaaaaaaaaaaaaaa1", at("2026-11-27T10:13:00Z"), std::nullopt);
  d.restore_pending(std::move(batch));
  auto merged = d.take_pending();
  CHECK(merged.at("11111111-1111-4111-8111-111111111111").status == contract::DeviceState::online);
}

TEST_CASE("directory: updates keep local state, deletes drop the device") {
  Directory d(1s);
  REQUIRE(d.load(kList).ok());
  d.seen("aaaaaaaaaaaaaaa1", at("2026-11-27T10:00:00Z"), std::nullopt);
  auto doc = device_from_json(R"({"id":"11111111-1111-4111-8111-111111111111","dev_eui":"bbbbbbbbbbbbbbb1",)"
                              R"("name":"renamed","status":"never_seen","version":2})");
  REQUIRE(doc.ok());
  d.upsert(*doc);
  CHECK_FALSE(d.find("aaaaaaaaaaaaaaa1"));  // dev_eui changed
  REQUIRE(d.find("bbbbbbbbbbbbbbb1"));
  CHECK(d.find("bbbbbbbbbbbbbbb1")->name == "renamed");
  CHECK_FALSE(d.seen("bbbbbbbbbbbbbbb1", at("2026-11-27T10:00:01Z"), std::nullopt));  // still online locally
  d.remove_id("11111111-1111-4111-8111-111111111111");
  CHECK_FALSE(d.find("bbbbbbbbbbbbbbb1"));
}

TEST_CASE("recent ids: a repeat in flight waits for the first outcome") {
  RecentIds ids(2, 1h);
  CHECK(ids.begin("a", nullptr) == RecentIds::Seen::fresh);
  std::optional<bool> waited;
  CHECK(ids.begin("a", [&](bool stored) { waited = stored; }) == RecentIds::Seen::pending);
  ids.finish("a", true);
  CHECK(waited == std::optional<bool>(true));
  CHECK(ids.begin("a", nullptr) == RecentIds::Seen::stored);

  // Not stored: the repeat is told so, and the next try starts afresh.
  CHECK(ids.begin("b", nullptr) == RecentIds::Seen::fresh);
  std::optional<bool> failed;
  CHECK(ids.begin("b", [&](bool stored) { failed = stored; }) == RecentIds::Seen::pending);
  ids.finish("b", false);
  CHECK(failed == std::optional<bool>(false));
  CHECK(ids.begin("b", nullptr) == RecentIds::Seen::fresh);
  ids.finish("b", true);

  // Bounded: the oldest stored id is forgotten first.
  CHECK(ids.begin("c", nullptr) == RecentIds::Seen::fresh);
  ids.finish("c", true);
  CHECK(ids.begin("d", nullptr) == RecentIds::Seen::fresh);
  CHECK(ids.begin("a", nullptr) == RecentIds::Seen::fresh);
}
