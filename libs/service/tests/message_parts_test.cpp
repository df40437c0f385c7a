// A device-event batch read from a real JetStream consumer: each event settles on its own and
// the message goes once all have, acked or handed back.
#include "dm/service/message_parts.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/contract/device_event.hpp"
#include "dm/testing/collector.hpp"

using namespace dm;
using namespace std::chrono_literals;
using dm::testing::eventually;

namespace {

struct Fixture {
  dm::testing::NatsServer server;
  std::shared_ptr<bus::Connection> conn;
  std::unique_ptr<bus::PullConsumer> consumer;

  explicit Fixture(std::chrono::milliseconds ack_wait = 30s) {
    conn = dm::testing::connect_bus(server.url(), "parts-test");
    auto& js = conn->jetstream();
    REQUIRE(js.ensure_stream({.name = "EV", .subjects = {"dm.events.>", "dm.device.>"}}).ok());
    REQUIRE(js.ensure_consumer("EV", {.durable = "reader", .ack_wait = ack_wait}).ok());
    auto sub = js.pull_subscribe("EV", "reader", "");
    REQUIRE(sub.ok());
    consumer = std::move(sub).value();
  }
  void publish(const std::string& subject, const std::string& body, const std::string& id,
               const bus::Headers& headers = {}) {
    REQUIRE(conn->jetstream().publish(subject, body, id, 2s, headers).ok());
  }
  // The parts of the next message, waiting for it.
  std::vector<service::MessagePart> next(std::chrono::milliseconds patience = 5s) {
    std::vector<service::MessagePart> parts;
    eventually(
        [&] {
          auto got = consumer->fetch(1, 200ms);
          if (got && !got->empty()) parts = service::unpack_events(std::move(got->front()));
          return !parts.empty();
        },
        patience);
    return parts;
  }
  std::uint64_t unacked() { return conn->jetstream().consumer_state("EV", "reader")->ack_pending; }
};

std::string batch_of(const std::vector<std::string>& events) {
  contract::BatchWriter w;
  for (const auto& e : events) w.add("dm.device.0000000000000001.up", e);
  return w.take();
}

}  // namespace

TEST_CASE("event parts: the message is acked once every event of it is") {
  Fixture f;
  f.publish("dm.events.up", batch_of({R"({"n":1})", R"({"n":2})", R"({"n":3})"}), "b1");
  auto parts = f.next();
  REQUIRE(parts.size() == 3);
  CHECK(parts[1].data() == R"({"n":2})");
  CHECK(parts[1].name() == "dm.device.0000000000000001.up");
  CHECK(parts[2].index() == 2);
  CHECK(parts[0].delivered() == 1);
  REQUIRE(parts[2].ack().ok());
  REQUIRE(parts[0].ack().ok());
  REQUIRE(parts[0].ack().ok());  // settled once: a second call changes nothing
  CHECK(f.unacked() == 1);
  REQUIRE(parts[1].ack().ok());
  CHECK(eventually([&] { return f.unacked() == 0; }, 5s));
  CHECK(f.next(700ms).empty());  // never comes again
}

TEST_CASE("event parts: a compressed batch reads as its events; one that does not inflate is one part") {
  Fixture f;
  std::vector<std::string> events;
  for (int i = 0; i < 20; ++i)
    events.push_back(R"({"n":)" + std::to_string(i) + R"(,"dev_eui":"0000000000000001","rx_info":[{"rssi":-36}]})");
  bus::Headers lz4;
  const auto packed = contract::pack_batch(batch_of(events), lz4);
  REQUIRE(lz4.size() == 1);
  CHECK(lz4[0].value == contract::kBatchEncodingLz4);
  f.publish("dm.events.up", packed, "z1", lz4);
  auto parts = f.next();
  REQUIRE(parts.size() == 20);
  CHECK(parts[7].data() == events[7]);
  CHECK(parts[19].name() == "dm.device.0000000000000001.up");
  for (auto& p : parts) REQUIRE(p.ack().ok());
  CHECK(eventually([&] { return f.unacked() == 0; }, 5s));

  // Cut short, it cannot inflate: the whole message is one part without a name, which its
  // consumer dead-letters as it does any batch it cannot read.
  const auto cut = packed.substr(0, packed.size() / 2);
  f.publish("dm.events.up", cut, "z2", lz4);
  auto broken = f.next();
  REQUIRE(broken.size() == 1);
  CHECK(broken[0].name().empty());
  CHECK(broken[0].data() == cut);
}

TEST_CASE("event parts: one event handed back brings the whole message back, once all are settled") {
  Fixture f;
  f.publish("dm.events.up", batch_of({"a", "b"}), "b2");
  {
    auto parts = f.next();
    REQUIRE(parts.size() == 2);
    REQUIRE(parts[0].nak().ok());
    CHECK(f.next(300ms).empty());  // the other is still in hand
    REQUIRE(parts[1].ack().ok());
  }
  auto again = f.next();
  REQUIRE(again.size() == 2);
  CHECK(again[0].delivered() == 2);
  // An event dropped without being settled counts as handed back too.
  again.pop_back();
  REQUIRE(again[0].ack().ok());
  auto third = f.next();
  REQUIRE(third.size() == 2);
  CHECK(third[0].delivered() == 3);
  for (auto& p : third) REQUIRE(p.ack().ok());
}

TEST_CASE("event parts: the shortest delay asked is the message's; an old single event is one part") {
  Fixture f;
  f.publish("dm.events.up", batch_of({"slow", "soon"}), "b3");
  auto parts = f.next();
  REQUIRE(parts.size() == 2);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(parts[0].nak(10s).ok());
  REQUIRE(parts[1].nak(500ms).ok());
  auto again = f.next(8s);
  REQUIRE(again.size() == 2);
  CHECK(std::chrono::steady_clock::now() - t0 >= 400ms);
  CHECK(std::chrono::steady_clock::now() - t0 < 8s);
  for (auto& p : again) REQUIRE(p.ack().ok());

  f.publish("dm.device.0000000000000002.up", R"({"old":true})", "single");
  auto single = f.next();
  REQUIRE(single.size() == 1);
  CHECK(single[0].name() == "dm.device.0000000000000002.up");
  CHECK(single[0].data() == R"({"old":true})");
  REQUIRE(single[0].ack().ok());
  CHECK(eventually([&] { return f.unacked() == 0; }, 5s));
}

TEST_CASE("fetch size: about the events asked for, however many a message holds") {
  service::FetchSize size(500);
  CHECK(size.messages() == 500);  // quiet: one event a message
  for (int i = 0; i < 20; ++i) size.saw(10, 1000);
  CHECK(size.messages() >= 5);
  CHECK(size.messages() <= 6);
  for (int i = 0; i < 20; ++i) size.saw(10, 10000);
  CHECK(size.messages() == 1);  // never none
  for (int i = 0; i < 40; ++i) size.saw(500, 500);
  CHECK(size.messages() >= 490);
  size.saw(0, 0);  // an empty fetch says nothing
  CHECK(size.messages() >= 490);
}

TEST_CASE("event parts: any part held keeps the whole message from coming back") {
  Fixture f(2s);
  f.publish("dm.events.up", batch_of({R"({"n":1})", R"({"n":2})", R"({"n":3})"}), "b-progress");
  auto parts = f.next();
  REQUIRE(parts.size() == 3);
  // Twice the ack wait, every part telling the server every 200 ms (it hears once a second).
  for (int i = 0; i < 20; ++i) {
    for (auto& p : parts) REQUIRE(p.in_progress().ok());
    std::this_thread::sleep_for(200ms);
  }
  auto again = f.consumer->fetch(1, 500ms);
  CHECK((!again || again->empty()));  // not redelivered
  for (auto& p : parts) REQUIRE(p.ack().ok());
  CHECK(eventually([&] { return f.unacked() == 0; }));
}
