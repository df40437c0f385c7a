// The gateway's cache of registry reads: hits are served without asking the registry, and a
// change made anywhere (through this gateway, or straight on the registry as another gateway
// replica or ingest would) shows at once, long before the cache's time to live.
#include <chrono>

// A time to live far longer than any wait below, so that only an announcement (or a reply
// never kept) can make a change show.
#define DM_API_STACK_ENV \
  { "READ_CACHE_TTL", "60s" }
#include "api_fixture.hpp"
#include "dm/bus/connection.hpp"

using dm::test::Api;

namespace {
std::string device_name(Api& api, const std::string& id) {
  auto r = api.get("/api/v1/devices/" + id);
  REQUIRE(r.status == 200);
  return r.str("name");
}
}  // namespace

TEST_CASE("a write through the gateway is read back at once") {
  Api api;
  auto made = api.post("/api/v1/devices", R"({"dev_eui":"cace000000000001","name":"before"})");
  REQUIRE(made.status == 201);
  auto id = made.str("id");
  CHECK(device_name(api, id) == "before");
  CHECK(device_name(api, id) == "before");  // now cached
  REQUIRE(api.put("/api/v1/devices/" + id, R"({"name":"after"})").status == 200);
  CHECK(device_name(api, id) == "after");
  REQUIRE(api.del("/api/v1/devices/" + id).status == 204);
  CHECK(api.get("/api/v1/devices/" + id).status == 404);
}

TEST_CASE("a write that bypasses this gateway clears its cache through the registry's announcement") {
  Api api;
  auto made = api.post("/api/v1/devices", R"({"dev_eui":"cace000000000002","name":"one"})");
  REQUIRE(made.status == 201);
  auto id = made.str("id");
  auto list_before = api.get("/api/v1/devices?limit=1000");
  CHECK(device_name(api, id) == "one");

  // Straight to the registry over NATS, as another gateway replica would.
  dm::bus::Options options;
  options.url = dm::test::stack().nats().url();
  auto nats = dm::bus::Connection::connect(options);
  REQUIRE(nats.ok());
  dm::bus::Headers headers{{"Dm-Method", "PUT"},
                           {"Dm-Target", "/api/v1/devices/" + id},
                           {"Content-Type", "application/json"},
                           {"Dm-Role", "admin"}};
  auto put = (*nats)->request("dm.rpc.registry.gateway", R"({"name":"two"})", std::chrono::seconds(5), headers);
  REQUIRE(put.ok());
  REQUIRE(put->header("Dm-Status").value_or("") == "200");

  // Seeing the change within the cache's time to live proves the announcement.
  CHECK(dm::testing::eventually([&] { return device_name(api, id) == "two"; }, std::chrono::seconds(10)));
  auto list_after = api.get("/api/v1/devices?limit=1000");
  CHECK(list_after.body.find("\"two\"") != std::string::npos);
}

TEST_CASE("an answer other than 200 is not kept") {
  Api api;
  auto made = api.post("/api/v1/devices", R"({"dev_eui":"cace000000000003","name":"three"})");
  REQUIRE(made.status == 201);
  auto target = "/api/v1/devices/" + made.str("id");
  // Without the registry the gateway answers 503; once it is back (well within the cache's
  // time to live), the same read must reach it rather than replay the 503.
  dm::test::stack().stop("registry");
  CHECK(api.get(target).status == 503);
  dm::test::stack().start("registry");
  REQUIRE(dm::test::stack().wait_ready("registry", std::chrono::seconds(30)));
  // Its RPC subscription may come up a moment after it reports ready: poll, for far less than
  // the time to live, so that only a kept 503 can fail this.
  CHECK(dm::testing::eventually([&] { return api.get(target).status == 200; }, std::chrono::seconds(10)));
}
