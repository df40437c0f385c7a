// The batcher on a real NATS server: events of one type within the linger are one stream
// message, a full batch goes at once, every event is answered from its message's PubAck and
// tapped on its own subject once stored.
#include "batcher.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/contract/device_event.hpp"
#include "dm/testing/testing.hpp"

using namespace dm;
using namespace std::chrono_literals;
using dm::testing::eventually;

namespace {

struct Fixture {
  dm::testing::NatsServer server;
  std::shared_ptr<bus::Connection> conn;
  std::mutex mu;
  std::vector<std::string> tapped;
  std::unique_ptr<bus::Subscription> taps;

  Fixture() {
    auto c = bus::Connection::connect({.url = server.url(), .name = "batcher-test"});
    REQUIRE(c.ok());
    conn = *c;
    REQUIRE(eventually([&] { return conn->connected(); }, 5s));
    REQUIRE(conn->jetstream().ensure_stream({.name = "EV", .subjects = {"dm.events.>"}}).ok());
    auto sub = conn->subscribe("dm.device.>", "", [this](bus::Message&& m) {
      std::lock_guard lock(mu);
      tapped.push_back(std::string(m.subject) + " " + std::string(m.data));
    });
    REQUIRE(sub.ok());
    taps = std::move(sub).value();
    REQUIRE(conn->flush(2s).ok());
  }
  std::uint64_t stored() { return conn->jetstream().stream_state("EV")->messages; }
  std::size_t taps_seen() {
    std::lock_guard lock(mu);
    return tapped.size();
  }
};

// Adds one event and returns the future of its stream sequence (0: not stored).
std::future<std::uint64_t> add(ingest::EventBatcher& b, int n, const char* type = "up") {
  auto done = std::make_shared<std::promise<std::uint64_t>>();
  auto f = done->get_future();
  b.add(type, "dm.device.000000000000000" + std::to_string(n % 10) + "." + type, "{\"n\":" + std::to_string(n) + "}",
        [done](const Result<bus::PubAck>& ack) { done->set_value(ack ? ack->sequence : 0); });
  return f;
}

}  // namespace

TEST_CASE("batcher: events within the linger are one message, a full batch goes at once") {
  Fixture fx;
  {
    ingest::EventBatcher b(*fx.conn, {.linger = 1s, .max_events = 3});
    auto a = add(b, 1), c = add(b, 2), join = add(b, 3, "join");
    // A third uplink fills their batch: sent without waiting for the linger.
    auto d = add(b, 4);
    REQUIRE(d.wait_for(500ms) == std::future_status::ready);
    auto full = d.get();
    CHECK(full > 0);
    CHECK(a.get() == full);
    CHECK(c.get() == full);
    // The others wait for their linger, then go together, one message per type.
    auto e = add(b, 5), f = add(b, 6);
    CHECK(join.wait_for(100ms) == std::future_status::timeout);
    auto later = e.get();
    CHECK(later > 0);
    CHECK(f.get() == later);
    auto joined = join.get();
    CHECK(joined > 0);
    CHECK(joined != later);
    CHECK(joined != full);
    CHECK(fx.stored() == 3);
  }
  // Each event is tapped once, on its own subject, as it was stored.
  REQUIRE(eventually([&] { return fx.taps_seen() == 6; }, 5s));
  std::lock_guard lock(fx.mu);
  CHECK(std::count(fx.tapped.begin(), fx.tapped.end(), std::string("dm.device.0000000000000003.join {\"n\":3}")) == 1);
}

TEST_CASE("batcher: without a linger every event is its own message; stopped, nothing is left behind") {
  Fixture fx;
  {
    ingest::EventBatcher b(*fx.conn, {.linger = 0ms});
    auto a = add(b, 1), c = add(b, 2);
    CHECK(a.get() != c.get());
    CHECK(fx.stored() == 2);
  }
  std::future<std::uint64_t> late;
  {
    ingest::EventBatcher b(*fx.conn, {.linger = 10s});
    late = add(b, 3);
  }  // destroyed long before its linger: what it held is published
  CHECK(late.get() > 0);
  CHECK(fx.stored() == 3);
  REQUIRE(eventually([&] { return fx.taps_seen() == 3; }, 5s));
}
