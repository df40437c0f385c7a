// The live-events hub without servers: topics, SSE frames, subscriptions that follow the
// clients, caps, fan-out and dropping a client that falls behind.
#include <catch2/catch.hpp>
#include <map>

#include "event_hub.hpp"

using dm::Errc;
using dm::Result;
using dm::gateway::EventHub;
using dm::gateway::EventLimits;
using dm::gateway::parse_topics;
using dm::gateway::sse_frame;
using dm::gateway::Topic;

namespace {

// Stands in for NATS: records what is subscribed, delivers on demand.
struct FakeBus {
  std::map<std::string, EventHub::Deliver> live;
  int subscribed = 0;
  bool fail = false;

  EventHub::Subscribe subscriber() {
    return [this](const std::string& subject, EventHub::Deliver deliver) -> Result<EventHub::Handle> {
      if (fail) return dm::make_error(Errc::unavailable, "NATS is down");
      ++subscribed;
      live[subject] = std::move(deliver);
      // Dropping the handle unsubscribes.
      return EventHub::Handle(new int(0), [this, subject](void* p) {
        live.erase(subject);
        delete static_cast<int*>(p);
      });
    };
  }
  void publish(const std::string& pattern, const std::string& subject, const std::string& payload) {
    if (auto it = live.find(pattern); it != live.end()) it->second(subject, payload);
  }
};

std::vector<Topic> topics(const std::string& list) {
  auto t = parse_topics(list);
  REQUIRE(t.ok());
  return *t;
}

std::string drain(dm::http::Stream& s) {
  std::string out;
  for (auto& c : s.take().chunks) out += c;
  return out;
}

}  // namespace

TEST_CASE("topics: families, ids, dedup, errors") {
  auto t = topics("devstate,flows:f-1,device:0004A30B001C0530,flows:f-1");
  REQUIRE(t.size() == 3);
  CHECK(t[0].subject == "dm.devstate.>");
  CHECK(t[1].subject == "dm.flow.completed.f-1");
  CHECK(t[1].family == "flows");
  CHECK(t[2].subject == "dm.device.0004a30b001c0530.>");
  CHECK(t[2].id == "0004a30b001c0530");

  // A family followed whole swallows its narrowed topics.
  t = topics("deliveries:i-1,deliveries,deadletters:uplinks");
  REQUIRE(t.size() == 2);
  CHECK(t[0].subject == "dm.delivery.>");
  CHECK(t[1].subject == "dm.deadletter.uplinks");
  CHECK(topics("definitions:flow")[0].subject == "dm.registry.changed.flow");
  CHECK(topics("functions,")[0].subject == "dm.function.run.>");

  for (const char* bad : {"", ",", "everything", "device", "devstate:xyz", "flows:a.b", "flows:*", "flows:>",
                          "flows:a b", "device:0004a30b001c053"}) {
    INFO(bad);
    auto r = parse_topics(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
  }
  std::string many;
  for (int i = 0; i < 17; ++i) many += "flows:f" + std::to_string(i) + ",";
  CHECK_FALSE(parse_topics(many).ok());
}

TEST_CASE("sse frames: the tap's JSON reaches the client whole, line breaks included") {
  CHECK(sse_frame("devstate", "dm.devstate.00", R"({"state":"online"})") ==
        "event: devstate\ndata: {\"subject\":\"dm.devstate.00\",\"data\":{\"state\":\"online\"}}\n\n");
  // A pretty-printed payload: each line becomes a data line (SSE joins them with \n).
  CHECK(sse_frame("flows", "s", "{\n \"a\": 1\r\n}") ==
        "event: flows\ndata: {\"subject\":\"s\",\"data\":{\ndata:  \"a\": 1\ndata: }}\n\n");
}

TEST_CASE("hub: subscribes while someone follows, fans out, unsubscribes after the last one") {
  FakeBus bus;
  EventHub hub(EventLimits{}, bus.subscriber());
  auto a = hub.open("u1", topics("devstate"), "ready-a");
  auto b = hub.open("u2", topics("devstate,flows:f-1"), "ready-b");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(a->stream);
  CHECK(bus.subscribed == 2);  // devstate once, flows:f-1
  CHECK(hub.stats().connections == 2);
  CHECK(hub.stats().subjects == 2);
  CHECK(drain(*a->stream) == "ready-a");
  CHECK(drain(*b->stream) == "ready-b");

  bus.publish("dm.devstate.>", "dm.devstate.0011", R"({"state":"online"})");
  bus.publish("dm.flow.completed.f-1", "dm.flow.completed.f-1", R"({"status":"success"})");
  CHECK(drain(*a->stream).find("event: devstate") == 0);
  auto got = drain(*b->stream);
  CHECK(got.find("event: devstate") != std::string::npos);
  CHECK(got.find("event: flows\ndata: {\"subject\":\"dm.flow.completed.f-1\"") != std::string::npos);

  // The server ends b's response: flows:f-1 is followed by nobody now.
  b->stream->ended();
  CHECK(bus.live.count("dm.flow.completed.f-1") == 0);
  CHECK(bus.live.count("dm.devstate.>") == 1);
  a->stream->ended();
  CHECK(bus.live.empty());
  CHECK(hub.stats().connections == 0);
  CHECK(hub.stats().subjects == 0);
}

TEST_CASE("hub: caps per user, overall and on subjects") {
  FakeBus bus;
  EventLimits limits;
  limits.max_connections = 3;
  limits.max_per_user = 2;
  limits.max_subjects = 2;
  EventHub hub(limits, bus.subscriber());
  auto a1 = hub.open("a", topics("devstate"), "");
  auto a2 = hub.open("a", topics("devstate"), "");
  auto a3 = hub.open("a", topics("devstate"), "");
  REQUIRE(a3.ok());
  CHECK(a3->refused == EventHub::Refusal::per_user);
  CHECK_FALSE(a3->stream);
  // A third subject would exceed max_subjects; subjects already followed are free.
  auto b1 = hub.open("b", topics("flows,functions"), "");
  REQUIRE(b1.ok());
  CHECK(b1->refused == EventHub::Refusal::subjects);
  b1 = hub.open("b", topics("devstate,flows"), "");
  REQUIRE(b1.ok());
  CHECK(b1->refused == EventHub::Refusal::none);
  auto c1 = hub.open("c", topics("devstate"), "");
  REQUIRE(c1.ok());
  CHECK(c1->refused == EventHub::Refusal::overall);
  // One leaves: its user may open again.
  a1->stream->ended();
  auto a4 = hub.open("a", topics("devstate"), "");
  REQUIRE(a4.ok());
  CHECK(a4->refused == EventHub::Refusal::none);
}

TEST_CASE("hub: a client that falls behind is dropped and counted; close_all ends every stream") {
  FakeBus bus;
  EventLimits limits;
  limits.stream.max_queued_bytes = 1000;
  dm::metrics::Counter dropped;
  EventHub hub(limits, bus.subscriber(), &dropped);
  auto slow = hub.open("u", topics("deliveries"), "");
  auto fast = hub.open("v", topics("deliveries"), "");
  REQUIRE(slow.ok());
  REQUIRE(fast.ok());
  const std::string payload(300, 'x');
  for (int i = 0; i < 10; ++i) {
    bus.publish("dm.delivery.>", "dm.delivery.i", "\"" + payload + "\"");
    drain(*fast->stream);  // this one keeps up
  }
  CHECK(slow->stream->overflowed());
  CHECK_FALSE(fast->stream->closed());
  CHECK(dropped.value() == 1);

  hub.close_all();
  CHECK(fast->stream->closed());
  // A subscription that fails is an error, and leaves nothing behind.
  fast->stream->ended();
  slow->stream->ended();
  bus.fail = true;
  auto failed = hub.open("u", topics("flows"), "");
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::unavailable);
  CHECK(hub.stats().connections == 0);
  CHECK(hub.stats().subjects == 0);
}

TEST_CASE("hub: a stream the server finishes after the hub is gone does not call back into it") {
  FakeBus bus;
  std::shared_ptr<dm::http::Stream> stream;
  {
    EventHub hub(EventLimits{}, bus.subscriber());
    auto opened = hub.open("u", topics("flows"), "");
    REQUIRE(opened.ok());
    stream = opened->stream;
  }
  CHECK(bus.live.empty());
  stream->ended();  // would be a use after free if the hub's callback were still set
  CHECK(stream->closed());
}
