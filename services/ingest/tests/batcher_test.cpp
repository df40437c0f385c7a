// The batcher on a real NATS server: events of one type within the linger are one stream
// message, a full batch goes at once, every event is answered from its message's PubAck and
// tapped on its own subject once stored.
#include "batcher.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/contract/device_event.hpp"
#include "dm/testing/collector.hpp"

using namespace dm;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  dm::testing::NatsServer server;
  std::shared_ptr<bus::Connection> conn = dm::testing::connect_bus(server.url(), "batcher-test");
  dm::testing::MessageCollector taps{server.url(), "dm.device.>"};

  Fixture() { REQUIRE(conn->jetstream().ensure_stream({.name = "EV", .subjects = {"dm.events.>"}}).ok()); }
  std::uint64_t stored() { return conn->jetstream().stream_state("EV")->messages; }
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
  REQUIRE(fx.taps.wait_for(6, 5s));
  CHECK(fx.taps.count() == 6);
  auto tapped = fx.taps.messages();
  CHECK(std::count_if(tapped.begin(), tapped.end(), [](const bus::Message& m) {
          return m.subject == "dm.device.0000000000000003.join" && m.data == R"({"n":3})";
        }) == 1);
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
  REQUIRE(fx.taps.wait_for(3, 5s));
}
