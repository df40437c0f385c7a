// Devices and labels over real HTTP through the gateway.
#include "api_fixture.hpp"
#include "registry_rpc.hpp"

using dm::test::Api;
using dm::test::unique;

namespace {
std::string eui(int n) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016x", 0xabc0000 + n + ::getpid() * 1000);
  return buf;
}
}  // namespace

// Create, get, list, update and delete as every kind does them: crud_test.cpp.
TEST_CASE("devices: dev_eui and region are normalised, defaults, status filter") {
  Api api;
  std::string e = eui(1);
  std::string upper = e;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto created = api.post("/api/v1/devices", R"({"dev_eui":")" + upper +
                                                 R"(","name":"Sensor 1","region":"eu868",)"
                                                 R"("expected_transmit_time":15,"metadata":{"room":"A"}})");
  REQUIRE(created.status == 201);
  std::string id = created.str("id");
  REQUIRE(created.str("dev_eui") == e);  // stored normalised
  REQUIRE(created.str("status") == "never_seen");
  REQUIRE(created.str("region") == "EU868");
  REQUIRE(created["metadata"]["room"] == "A");
  REQUIRE(created["labels"].IsArray());

  auto patched = api.patch("/api/v1/devices/" + id, R"({"name":"Renamed","status":"maintenance"})");
  REQUIRE(patched.status == 200);
  REQUIRE(patched.str("name") == "Renamed");
  REQUIRE(patched.str("dev_eui") == e);

  auto filtered = api.get("/api/v1/devices?status=maintenance&search=Renamed");
  REQUIRE(filtered.status == 200);
  REQUIRE(filtered.json.Size() >= 1);
}

TEST_CASE("devices: bad input is refused and changes nothing") {
  Api api;
  auto before = api.get("/api/v1/devices?limit=1");
  std::string total = before.headers.get("X-Total-Count").value_or("?");

  auto bad_eui = api.post("/api/v1/devices", R"({"dev_eui":"xyz","name":"x"})");
  REQUIRE(bad_eui.status == 422);
  REQUIRE(bad_eui.has_error_for("dev_eui"));

  auto missing = api.post("/api/v1/devices", R"({"dev_eui":")" + eui(2) + R"("})");
  REQUIRE(missing.status == 422);
  REQUIRE(missing.has_error_for("name"));

  auto types =
      api.post("/api/v1/devices", R"({"dev_eui":")" + eui(2) + R"(","name":5,"is_class_c":"yes","metadata":[]})");
  REQUIRE(types.status == 422);
  REQUIRE(types.has_error_for("name"));
  REQUIRE(types.has_error_for("is_class_c"));
  REQUIRE(types.has_error_for("metadata"));

  auto unknown = api.post("/api/v1/devices", R"({"dev_eui":")" + eui(2) + R"(","name":"x","colour":"red"})");
  REQUIRE(unknown.status == 422);
  REQUIRE(unknown.has_error_for("colour"));

  auto malformed = api.post("/api/v1/devices", R"({"dev_eui":)");
  REQUIRE(malformed.status == 422);

  auto huge = api.post("/api/v1/devices", R"({"name":")" + std::string(2 << 20, 'x') + R"("})");
  REQUIRE(huge.status == 413);

  auto bad_label =
      api.post("/api/v1/devices",
               R"({"dev_eui":")" + eui(2) + R"(","name":"x","label_ids":["00000000-0000-0000-0000-000000000000"]})");
  REQUIRE(bad_label.status == 422);
  REQUIRE(api.get("/api/v1/devices?status=sleeping").status == 422);

  auto after = api.get("/api/v1/devices?limit=1");
  REQUIRE(after.headers.get("X-Total-Count").value_or("!") == total);
}

TEST_CASE("devices: a name with NUL or a control character is 422 and nothing is stored") {
  Api api;
  auto count = [&] { return api.get("/api/v1/devices?limit=1").headers.get("X-Total-Count").value_or("?"); };
  const std::string total = count();
  const std::string e = eui(4);
  auto body = [&](const std::string& name_json) { return R"({"dev_eui":")" + e + R"(","name":)" + name_json + "}"; };

  auto nul = api.post("/api/v1/devices", body(R"("a\u0000b")"));
  CHECK(nul.status == 422);
  CHECK(nul.body.find(R"("type":"json_invalid")") != std::string::npos);
  CHECK(nul.body.find("NUL character") != std::string::npos);
  auto bell = api.post("/api/v1/devices", body(R"("a\u0007b")"));
  CHECK(bell.status == 422);
  CHECK(bell.has_error_for("name"));
  CHECK(bell.body.find("String should not contain control characters (U+0007 at character 2)") != std::string::npos);
  CHECK(api.post("/api/v1/devices", body("\"ab\xff\xfe\"")).status == 422);     // not UTF-8
  CHECK(api.post("/api/v1/devices", body(R"("a","name":"b")")).status == 422);  // which name?
  auto form = api.call("POST", "/api/v1/devices", body(R"("a")"), {{"Content-Type", "text/plain"}});
  CHECK(form.status == 415);
  CHECK(form.str("detail").find("Unsupported Media Type") == 0);
  CHECK(count() == total);

  // Without a Content-Type the body is still read as JSON; a tab is no control.
  auto client = dm::http::Client::create(dm::test::stack().url("gateway"));
  REQUIRE(client.ok());
  auto sent =
      (*client)->request("POST", "/api/v1/devices", body(R"("Kühlraum\t3")"),
                         {{"Authorization", "Bearer " + dm::test::token_for(dm::test::stack(), dm::test::As::admin)}});
  REQUIRE(sent.ok());
  auto plain = dm::testing::api_reply(*sent);
  REQUIRE(plain.status == 201);
  const std::string id = plain.str("id");
  CHECK(plain.str("name") == "Kühlraum\t3");
  CHECK(api.patch("/api/v1/devices/" + id, R"({"name":"x\u001b[2J"})").status == 422);
  CHECK(api.get("/api/v1/devices/" + id).str("name") == "Kühlraum\t3");
  CHECK(api.del("/api/v1/devices/" + id).status == 204);
  CHECK(count() == total);
}

TEST_CASE("devices: duplicate dev_eui in any case is a conflict") {
  Api api;
  std::string e = eui(3);
  REQUIRE(api.post("/api/v1/devices", R"({"dev_eui":")" + e + R"(","name":"a"})").status == 201);
  std::string upper = e;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto dup = api.post("/api/v1/devices", R"({"dev_eui":")" + upper + R"(","name":"b"})");
  REQUIRE(dup.status == 409);
  REQUIRE(dup.str("detail").find(e) != std::string::npos);
}

TEST_CASE("labels: device count, membership and device label sets") {
  Api api;
  std::string name = unique("trackers");
  auto label = api.post("/api/v1/labels", R"({"name":")" + name + R"(","color":"#ff0000"})");
  REQUIRE(label.status == 201);
  std::string lid = label.str("id");
  REQUIRE(label["device_count"].GetInt() == 0);

  auto dev = api.post("/api/v1/devices", R"({"dev_eui":")" + eui(4) + R"(","name":"tracker"})");
  std::string did = dev.str("id");
  auto added = api.post("/api/v1/labels/" + lid + "/devices/" + did, "");
  REQUIRE(added.status == 200);
  REQUIRE(added["labels"].Size() == 1);
  REQUIRE(api.get("/api/v1/labels/" + lid)["device_count"].GetInt() == 1);
  REQUIRE(api.get("/api/v1/devices?label=" + lid).json.Size() == 1);
  REQUIRE(api.get("/api/v1/devices?label=" + name).json.Size() == 1);

  auto labels = api.get("/api/v1/devices/" + did + "/labels");
  REQUIRE(labels.status == 200);
  REQUIRE(labels.json.Size() == 1);

  auto replaced = api.put("/api/v1/devices/" + did + "/labels", "[]");
  REQUIRE(replaced.status == 200);
  REQUIRE(replaced.json.Size() == 0);
  REQUIRE(api.put("/api/v1/devices/" + did + "/labels", R"({"label_ids":[")" + lid + R"("]})").json.Size() == 1);
  REQUIRE(api.put("/api/v1/devices/" + did + "/labels", R"({"label_ids":["nope"]})").status == 422);

  REQUIRE(api.del("/api/v1/labels/" + lid + "/devices/" + did).status == 204);
  REQUIRE(api.del("/api/v1/labels/" + lid + "/devices/" + did).status == 404);
  REQUIRE(api.post("/api/v1/labels/" + lid + "/devices/00000000-0000-0000-0000-000000000000", "").status == 404);
}

TEST_CASE("unknown routes and methods answer in FastAPI's shape") {
  Api api;
  auto r = api.get("/api/v1/nothing-here");
  REQUIRE(r.status == 404);
  REQUIRE(r.str("detail") == "Not Found");
  REQUIRE(api.call("POST", "/api/v1/devices/00000000-0000-0000-0000-000000000000", "{}").status == 405);
}

// Ingest's reports (POST /internal/v1/devices/state), applied in one statement: last seen only
// moves forward, maintenance keeps its status, a device reported twice is updated twice, and
// a device gone meanwhile is skipped.
TEST_CASE("device states: ingest's batch applied in order, as one report after another would be") {
  Api api;
  auto a = api.post("/api/v1/devices", R"({"dev_eui":")" + eui(40) + R"(","name":"State A"})");
  auto b = api.post("/api/v1/devices", R"({"dev_eui":")" + eui(41) + R"(","name":"State B"})");
  auto m = api.post("/api/v1/devices", R"({"dev_eui":")" + eui(42) + R"(","name":"State M","status":"maintenance"})");
  REQUIRE(a.status == 201);
  REQUIRE(b.status == 201);
  REQUIRE(m.status == 201);
  const auto version_a = a["version"].GetInt64();
  const std::string gone = "00000000-0000-4000-8000-000000000042";
  std::string body = R"({"devices":[)"
                     R"({"id":")" +
                     a.str("id") +
                     R"(","last_seen_at":"2026-12-05T10:00:00Z","status":"online","battery_level":50},)"
                     R"({"id":")" +
                     b.str("id") +
                     R"(","last_seen_at":"2026-12-05T10:00:00Z"},)"
                     R"({"id":")" +
                     m.str("id") +
                     R"(","last_seen_at":"2026-12-05T10:00:00Z","status":"online"},)"
                     R"({"id":")" +
                     gone +
                     R"(","status":"online"},)"
                     R"({"id":")" +
                     a.str("id") + R"(","last_seen_at":"2026-12-05T09:00:00Z","status":"offline"}]})";
  auto r = dm::test::registry_rpc("/internal/v1/devices/state", "ingest", dm::test::stack(), "POST", body);
  REQUIRE(r.status == 200);
  CHECK(r.json["updated"].GetInt() == 4);

  auto got_a = api.get("/api/v1/devices/" + a.str("id"));
  CHECK(got_a.str("status") == "offline");
  CHECK(got_a["version"].GetInt64() == version_a + 2);  // online, then offline
  CHECK(got_a["battery_level"].GetDouble() == 50);
  CHECK(got_a.str("last_seen_at").starts_with("2026-12-05T10:00:00"));  // never backwards
  auto got_b = api.get("/api/v1/devices/" + b.str("id"));
  CHECK(got_b.str("status") == "never_seen");
  CHECK(got_b.str("last_seen_at").starts_with("2026-12-05T10:00:00"));
  CHECK(api.get("/api/v1/devices/" + m.str("id")).str("status") == "maintenance");
  // Only ingest may report states.
  CHECK(dm::test::registry_rpc("/internal/v1/devices/state", "flow-orchestrator", dm::test::stack(), "POST", body)
            .status == 403);
}
