// The console's two gateway modules on a real gateway: the static bundle at / (cache headers,
// gzip, the page shown before a build, a rebuild picked up without a restart) and the live
// events at /api/v1/events (authentication, topics, taps from NATS, caps, ends).

#include <filesystem>
#include <fstream>
#include <thread>

#include "api_fixture.hpp"
#include "dm/bus/connection.hpp"
#include "dm/testing/raw_connection.hpp"

using dm::test::Api;
using dm::test::As;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// The bundle folder starts empty: the test builds a fake bundle into it later.
struct Fixture {
  dm::testing::TempDir dir{"dm-console"};
  std::string dist = dir.path() + "/dist";
  dm::testing::Stack stack{
      {"gateway"},
      {{"CONSOLE_DIR", dist}, {"EVENTS_MAX_PER_USER", "2"}, {"EVENTS_MAX_AGE", "4s"}, {"EVENTS_KEEPALIVE", "1s"}}};
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// A GET read as it arrives (the streams never end by themselves).
class Reader : public dm::testing::RawConnection {
 public:
  Reader(int port, const std::string& target, const std::string& token)
      : RawConnection(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n") {}
};

std::string token(As who) { return dm::test::token_for(fixture().stack, who); }

}  // namespace

TEST_CASE("console: a page that says how to build it, then the bundle with its cache headers") {
  auto& f = fixture();
  Api anon(f.stack, As::anonymous);
  auto missing = anon.get("/");
  CHECK(missing.status == 503);
  CHECK(missing.body.find("tools/setup.sh") != std::string::npos);
  CHECK(missing.headers.get("Content-Type") == "text/html; charset=utf-8");

  // A build appears: the gateway picks it up without a restart (it looks once a second).
  write_file(f.dist + "/assets/main-ABC123.js", "console.log('console')");
  write_file(f.dist + "/assets/main-ABC123.js.gz", "gzipped bytes");
  write_file(f.dist + "/assets/.hidden.js", "no");
  write_file(f.dist + "/index.html", "<!doctype html><script type=module src=/assets/main-ABC123.js></script>");
  auto deadline = Clock::now() + 10s;
  auto page = anon.get("/");
  while (page.status != 200 && Clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    page = anon.get("/");
  }
  REQUIRE(page.status == 200);
  CHECK(page.body.find("main-ABC123.js") != std::string::npos);
  CHECK(page.headers.get("Cache-Control") == "no-cache");
  CHECK(page.headers.get("Content-Security-Policy")->find("script-src 'self'") != std::string::npos);
  CHECK(page.headers.get("X-Content-Type-Options") == "nosniff");
  auto etag = page.headers.get("ETag");
  REQUIRE(etag);
  CHECK(anon.call("GET", "/", "", {{"If-None-Match", *etag}}).status == 304);

  auto js = anon.get("/assets/main-ABC123.js");
  CHECK(js.status == 200);
  CHECK(js.body == "console.log('console')");
  CHECK(js.headers.get("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(js.headers.get("Cache-Control") == "public, max-age=31536000, immutable");
  auto gz = anon.call("GET", "/assets/main-ABC123.js", "", {{"Accept-Encoding", "br, gzip;q=0.8"}});
  CHECK(gz.body == "gzipped bytes");
  CHECK(gz.headers.get("Content-Encoding") == "gzip");
  CHECK(anon.call("GET", "/assets/main-ABC123.js", "", {{"Accept-Encoding", "gzip;q=0"}}).body ==
        "console.log('console')");
  for (const char* bad :
       {"/assets/.hidden.js", "/assets/nothing.js", "/assets/..%2Findex.html", "/assets/..%2F..%2Fetc%2Fpasswd"}) {
    INFO(bad);
    CHECK(anon.get(bad).status == 404);
  }
}

TEST_CASE("events: authenticated, topics required and checked") {
  auto& f = fixture();
  Api anon(f.stack, As::anonymous);
  CHECK(anon.get("/api/v1/events?topics=devstate").status == 401);
  Api viewer(f.stack, As::viewer);
  auto none = viewer.get("/api/v1/events");
  CHECK(none.status == 422);
  CHECK(none.body.find("\"loc\":[\"query\",\"topics\"]") != std::string::npos);
  auto bad = viewer.get("/api/v1/events?topics=devstate,secrets");
  CHECK(bad.status == 422);
  CHECK(bad.body.find("unknown topic 'secrets'") != std::string::npos);
  // The OpenAPI document describes it.
  auto doc = viewer.get("/api/v1/openapi.json");
  CHECK(doc.body.find("\"/api/v1/events\"") != std::string::npos);
  CHECK(doc.body.find("text/event-stream") != std::string::npos);
}

TEST_CASE("events: taps arrive live; caps per user; streams end on an account change and with age") {
  auto& f = fixture();
  const auto viewer = token(As::viewer);
  const int port = f.stack.port("gateway");
  auto a = std::make_unique<Reader>(port, "/api/v1/events?topics=devstate,flows:f-1", viewer);
  REQUIRE(a->read_until("event: ready\ndata: {\"topics\":[\"devstate\",\"flows:f-1\"]}"));
  CHECK(a->received().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(a->received().find("Content-Type: text/event-stream") != std::string::npos);

  auto nats = dm::bus::Connection::connect({.url = f.stack.nats().url()});
  REQUIRE(nats.ok());
  REQUIRE((*nats)->publish("dm.devstate.0011223344556677", R"({"dev_eui":"0011223344556677","state":"online"})").ok());
  REQUIRE((*nats)->publish("dm.flow.completed.f-2", R"({"flow_id":"f-2"})").ok());  // not followed
  REQUIRE((*nats)->publish("dm.flow.completed.f-1", R"({"flow_id":"f-1"})").ok());
  // Each subject is delivered on its own thread: in any order.
  REQUIRE(a->read_until("event: flows\ndata: {\"subject\":\"dm.flow.completed.f-1\",\"data\":{\"flow_id\":\"f-1\"}}"));
  REQUIRE(
      a->read_until("event: devstate\ndata: {\"subject\":\"dm.devstate.0011223344556677\",\"data\":{\"dev_eui\":"
                    "\"0011223344556677\",\"state\":\"online\"}}"));
  CHECK(a->received().find("f-2") == std::string::npos);
  REQUIRE(a->read_until(": keep-alive"));  // EVENTS_KEEPALIVE=1s while quiet

  // Two streams per user here: the third is refused.
  Reader b(port, "/api/v1/events?topics=devstate", viewer);
  REQUIRE(b.read_until("event: ready"));
  Reader c(port, "/api/v1/events?topics=devstate", viewer);
  REQUIRE(c.read_until("Too many live event streams for this user"));
  CHECK(c.received().rfind("HTTP/1.1 429", 0) == 0);
  CHECK(c.received().find("Retry-After: 10") != std::string::npos);
  // Another user is not affected.
  Reader d(port, "/api/v1/events?topics=devstate", token(As::editor));
  REQUIRE(d.read_until("event: ready"));

  // An account or key changes: every stream ends, so its client authenticates again.
  Api admin(f.stack, As::admin);
  REQUIRE(admin.post("/api/v1/auth/api-keys", R"({"name":"console-test"})").status == 201);
  CHECK(a->read_until_closed(10s));
  CHECK(b.read_until_closed(10s));
  CHECK(d.read_until_closed(10s));

  // And every stream ends after EVENTS_MAX_AGE (4 s).
  auto t0 = Clock::now();
  Reader e(port, "/api/v1/events?topics=deadletters", viewer);
  REQUIRE(e.read_until("event: ready"));
  CHECK(e.read_until_closed(20s));
  CHECK(Clock::now() - t0 >= 3s);
}
