#include "dm/bus/bus.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dm/testing/testing.hpp"
#include "nats_message.hpp"

using dm::Errc;
using namespace std::chrono_literals;
namespace bus = dm::bus;
using Clock = std::chrono::steady_clock;

#define REQUIRE_OK(expr)                                            \
  do {                                                              \
    auto&& req_ok_ = (expr);                                        \
    INFO((req_ok_.ok() ? std::string() : req_ok_.error().message)); \
    REQUIRE(req_ok_.ok());                                          \
  } while (0)

namespace {

using dm::testing::eventually;

std::shared_ptr<bus::Connection> connect(const dm::testing::NatsServer& server, bool send_asap = false) {
  bus::Options options;
  options.url = server.url();
  options.name = "bus-test";
  options.send_asap = send_asap;
  auto conn = bus::Connection::connect(options);
  REQUIRE_OK(conn);
  REQUIRE(eventually([&] { return (*conn)->connected(); }, 5s));
  return *conn;
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Fetches `batch` at a time until at least `n` messages came or `timeout` passed. A failed
// fetch counts as none (a server restarting in between).
std::vector<bus::JsMessage> fetch_until(bus::PullConsumer& consumer, std::size_t n, int batch,
                                        std::chrono::milliseconds timeout = 5s) {
  std::vector<bus::JsMessage> got;
  eventually(
      [&] {
        if (auto more = consumer.fetch(batch, 200ms)) {
          for (auto& m : *more) got.push_back(std::move(m));
        }
        return got.size() >= n;
      },
      timeout);
  return got;
}

// Handlers run on library threads: collect there, assert on the test thread.
struct Inbox {
  std::mutex mu;
  std::vector<bus::Message> messages;
  void add(bus::Message&& m) {
    std::lock_guard lock(mu);
    messages.push_back(std::move(m));
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return messages.size();
  }
};

std::unique_ptr<bus::Subscription> echo_responder(bus::Connection& conn, const std::string& subject) {
  auto sub = conn.subscribe(subject, "", [&conn](bus::Message&& m) {
    bus::Headers headers;
    if (auto id = m.header("X-Id")) headers.push_back({"X-Id", *id});
    (void)conn.respond(m, "re:" + m.data, headers);
  });
  REQUIRE_OK(sub);
  REQUIRE_OK(conn.flush(2s));
  return std::move(*sub);
}

}  // namespace

TEST_CASE("bus publishes and subscribes with headers") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  Inbox inbox;
  auto sub = conn->subscribe("dev.telemetry", "", [&](bus::Message&& m) { inbox.add(std::move(m)); });
  REQUIRE_OK(sub);
  REQUIRE_OK(conn->flush(2s));

  REQUIRE_OK(conn->publish("dev.telemetry", "hello", {{"X-Id", "42"}, {"X-Multi", "a"}, {"X-Multi", "b"}}));
  REQUIRE_OK(conn->publish("dev.telemetry", std::string("\0bin", 4)));
  REQUIRE_OK(conn->flush(2s));
  REQUIRE(eventually([&] { return inbox.size() == 2; }, 5s));

  std::lock_guard lock(inbox.mu);
  const auto& m = inbox.messages[0];
  REQUIRE(m.subject == "dev.telemetry");
  REQUIRE(m.data == "hello");
  REQUIRE(m.reply.empty());
  REQUIRE(m.header("X-Id") == "42");
  REQUIRE(m.header("X-Multi") == "a");
  REQUIRE_FALSE(m.header("X-Absent").has_value());
  int multi = 0;
  for (const auto& h : m.headers) multi += h.key == "X-Multi";
  REQUIRE(multi == 2);
  REQUIRE(inbox.messages[1].data == std::string("\0bin", 4));
  REQUIRE(inbox.messages[1].headers.empty());

  const auto stats = conn->stats();
  REQUIRE(stats.in_msgs >= 2);
  REQUIRE(stats.out_msgs >= 2);
  REQUIRE(stats.reconnects == 0);
}

TEST_CASE("bus subscription destructor stops delivery and drain delivers what arrived") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  std::atomic<int> got{0};
  auto sub = conn->subscribe("a", "", [&](bus::Message&&) { ++got; });
  REQUIRE_OK(sub);
  REQUIRE_OK(conn->flush(2s));
  REQUIRE_OK(conn->publish("a", "1"));
  REQUIRE_OK(conn->flush(2s));
  REQUIRE(eventually([&] { return got == 1; }, 5s));
  sub->reset();
  REQUIRE_OK(conn->publish("a", "2"));
  REQUIRE_OK(conn->flush(2s));
  std::this_thread::sleep_for(100ms);
  REQUIRE(got == 1);

  std::atomic<int> slow{0};
  auto drained = conn->subscribe("b", "", [&](bus::Message&&) {
    std::this_thread::sleep_for(20ms);
    ++slow;
  });
  REQUIRE_OK(drained);
  REQUIRE_OK(conn->flush(2s));
  for (int i = 0; i < 5; ++i) REQUIRE_OK(conn->publish("b", "x"));
  REQUIRE_OK(conn->flush(2s));
  REQUIRE(eventually([&] { return slow >= 1; }, 5s));
  REQUIRE_OK((*drained)->drain(5s));
  REQUIRE(slow == 5);

  // A handler may drop its own subscription without deadlocking.
  std::unique_ptr<bus::Subscription> self;
  std::mutex self_mu;
  std::atomic<bool> dropped{false};
  auto made = conn->subscribe("c", "", [&](bus::Message&&) {
    std::lock_guard lock(self_mu);
    self.reset();
    dropped = true;
  });
  REQUIRE_OK(made);
  {
    std::lock_guard lock(self_mu);
    self = std::move(*made);
  }
  REQUIRE_OK(conn->flush(2s));
  REQUIRE_OK(conn->publish("c", "x"));
  REQUIRE(eventually([&] { return dropped.load(); }, 5s));
}

TEST_CASE("bus queue group splits messages between subscribers") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  std::atomic<int> a{0};
  std::atomic<int> b{0};
  auto sa = conn->subscribe("jobs", "workers", [&](bus::Message&&) { ++a; });
  auto sb = conn->subscribe("jobs", "workers", [&](bus::Message&&) { ++b; });
  REQUIRE_OK(sa);
  REQUIRE_OK(sb);
  REQUIRE_OK(conn->flush(2s));
  for (int i = 0; i < 200; ++i) REQUIRE_OK(conn->publish("jobs", std::to_string(i)));
  REQUIRE_OK(conn->flush(2s));
  REQUIRE(eventually([&] { return a + b == 200; }, 5s));
  std::this_thread::sleep_for(50ms);
  REQUIRE(a + b == 200);  // each message to exactly one member
  REQUIRE(a > 0);
  REQUIRE(b > 0);
}

TEST_CASE("bus request/reply, timeout and no responders") {
  dm::testing::NatsServer server;
  auto responder = connect(server);
  auto conn = connect(server, true);
  auto echo = echo_responder(*responder, "svc.echo");

  auto reply = conn->request("svc.echo", "ping", 2s, {{"X-Id", "7"}});
  REQUIRE_OK(reply);
  REQUIRE(reply->data == "re:ping");
  REQUIRE(reply->header("X-Id") == "7");

  auto silent = responder->subscribe("svc.silent", "", [](bus::Message&&) {});
  REQUIRE_OK(silent);
  REQUIRE_OK(responder->flush(2s));
  auto start = Clock::now();
  auto timed_out = conn->request("svc.silent", "x", 200ms);
  REQUIRE_FALSE(timed_out.ok());
  REQUIRE(timed_out.error().code == Errc::timeout);
  REQUIRE(ms_since(start) >= 150);

  start = Clock::now();
  auto nobody = conn->request("svc.nobody", "x", 2s);
  REQUIRE_FALSE(nobody.ok());
  REQUIRE(nobody.error().code == Errc::unavailable);
  REQUIRE(ms_since(start) < 1000);

  bus::Message no_reply;
  no_reply.subject = "x";
  REQUIRE(conn->respond(no_reply, "y").error().code == Errc::invalid_argument);
}

TEST_CASE("bus request_async: 1000 concurrent requests each get their own reply") {
  dm::testing::NatsServer server;
  auto responder = connect(server);
  auto conn = connect(server);
  auto echo = echo_responder(*responder, "svc.echo");

  constexpr int kCount = 1000;
  std::atomic<int> done{0};
  std::atomic<int> matched{0};
  std::mutex errors_mu;
  std::vector<std::string> errors;
  for (int i = 0; i < kCount; ++i) {
    const std::string body = std::to_string(i);
    conn->request_async("svc.echo", body, 10s,
                        [&, body](dm::Result<bus::Message> r) {
                          if (r && r->data == "re:" + body && r->header("X-Id") == body) {
                            ++matched;
                          } else {
                            std::lock_guard lock(errors_mu);
                            errors.push_back(r ? "mismatch: " + r->data : r.error().message);
                          }
                          ++done;
                        },
                        {{"X-Id", body}});
  }
  REQUIRE(eventually([&] { return done == kCount; }, 20s));
  std::this_thread::sleep_for(100ms);
  INFO((errors.empty() ? std::string() : errors.front()));
  REQUIRE(done == kCount);  // exactly once each
  REQUIRE(matched == kCount);
}

TEST_CASE("bus request_async times out and reports no responders") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto silent = conn->subscribe("svc.silent", "", [](bus::Message&&) {});
  REQUIRE_OK(silent);
  REQUIRE_OK(conn->flush(2s));

  std::atomic<int> calls{0};
  std::atomic<int> code{-1};
  std::atomic<long long> elapsed{0};
  const auto start = Clock::now();
  conn->request_async("svc.silent", "x", 200ms, [&](dm::Result<bus::Message> r) {
    code = r.ok() ? -2 : static_cast<int>(r.error().code);
    elapsed = ms_since(start);
    ++calls;
  });
  REQUIRE(eventually([&] { return calls == 1; }, 5s));
  REQUIRE(code == static_cast<int>(Errc::timeout));
  REQUIRE(elapsed >= 150);
  REQUIRE(elapsed < 2000);

  std::atomic<int> nobody_calls{0};
  std::atomic<int> nobody_code{-1};
  conn->request_async("svc.nobody", "x", 5s, [&](dm::Result<bus::Message> r) {
    nobody_code = r.ok() ? -2 : static_cast<int>(r.error().code);
    ++nobody_calls;
  });
  REQUIRE(eventually([&] { return nobody_calls == 1; }, 2s));
  REQUIRE(nobody_code == static_cast<int>(Errc::unavailable));
  std::this_thread::sleep_for(300ms);
  REQUIRE(calls == 1);
  REQUIRE(nobody_calls == 1);
}

TEST_CASE("bus destroying a connection fails pending async work exactly once") {
  dm::testing::NatsServer server;
  std::atomic<int> calls{0};
  std::atomic<int> code{-1};
  {
    auto conn = connect(server);
    auto silent = conn->subscribe("svc.silent", "", [](bus::Message&&) {});
    REQUIRE_OK(silent);
    REQUIRE_OK(conn->flush(2s));
    conn->request_async("svc.silent", "x", 30s, [&](dm::Result<bus::Message> r) {
      code = r.ok() ? -2 : static_cast<int>(r.error().code);
      ++calls;
    });
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE(calls == 1);
  REQUIRE(code == static_cast<int>(Errc::unavailable));
}

// 5 MB, not a repeated byte, so a part out of place would show.
std::string big_body() {
  std::string body(5u << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return body;
}

TEST_CASE("bus request_async: a reply over max_payload travels in parts and arrives whole") {
  dm::testing::NatsServer server;
  auto responder = connect(server);
  auto conn = connect(server);
  REQUIRE(responder->max_payload() < (5u << 20));
  const std::string body = big_body();
  std::atomic<int> respond_failures{0};
  auto sub = responder->subscribe("svc.big", "", [&](bus::Message&& m) {
    if (!responder->respond(m, body, {{"X-Id", "big"}})) ++respond_failures;
  });
  REQUIRE_OK(sub);
  REQUIRE_OK(responder->flush(2s));

  std::atomic<int> calls{0};
  dm::Result<bus::Message> got = dm::Error(Errc::internal, "no reply");
  conn->request_async("svc.big", "x", 10s, [&](dm::Result<bus::Message> r) {
    got = std::move(r);
    ++calls;
  });
  REQUIRE(eventually([&] { return calls == 1; }, 15s));
  REQUIRE(respond_failures == 0);
  REQUIRE_OK(got);
  REQUIRE(got->data.size() == body.size());
  REQUIRE(got->data == body);
  REQUIRE(got->header("X-Id") == "big");
  REQUIRE_FALSE(got->header("Dm-Part").has_value());  // part numbers are the bus's business
  REQUIRE_FALSE(got->header("Dm-Parts").has_value());
}

TEST_CASE("bus a plain request to a reply over max_payload fails clearly instead of getting parts") {
  dm::testing::NatsServer server;
  auto responder = connect(server);
  auto conn = connect(server);
  const std::string body = big_body();
  std::mutex mu;
  std::optional<dm::Error> respond_error;
  auto sub = responder->subscribe("svc.big", "", [&](bus::Message&& m) {
    auto r = responder->respond(m, body);
    std::lock_guard lock(mu);
    if (!r) respond_error = r.error();
  });
  REQUIRE_OK(sub);
  REQUIRE_OK(responder->flush(2s));
  auto reply = conn->request("svc.big", "x", 500ms);
  REQUIRE_FALSE(reply.ok());
  REQUIRE(reply.error().code == Errc::timeout);
  REQUIRE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return respond_error.has_value();
      },
      5s));
  std::lock_guard lock(mu);
  CHECK(respond_error->code == Errc::too_large);
  CHECK(respond_error->message.find("does not take replies in parts") != std::string::npos);
  CHECK(respond_error->message.find(std::to_string(body.size())) != std::string::npos);
}

TEST_CASE("bus reply parts arriving after the timeout are dropped; a part out of order fails the request") {
  dm::testing::NatsServer server;
  auto responder = connect(server);
  auto conn = connect(server);
  std::mutex mu;
  std::vector<bus::Message> held;  // requests answered by hand below
  auto sub = responder->subscribe("svc.late", "", [&](bus::Message&& m) {
    std::lock_guard lock(mu);
    held.push_back(std::move(m));
  });
  REQUIRE_OK(sub);
  auto echo = echo_responder(*responder, "svc.echo");

  std::atomic<int> calls{0};
  std::atomic<int> code{-1};
  conn->request_async("svc.late", "x", 200ms, [&](dm::Result<bus::Message> r) {
    code = r.ok() ? -2 : static_cast<int>(r.error().code);
    ++calls;
  });
  REQUIRE(eventually([&] { return calls == 1; }, 5s));
  REQUIRE(code == static_cast<int>(Errc::timeout));
  bus::Message late;
  {
    std::lock_guard lock(mu);
    REQUIRE(held.size() == 1);
    late = held[0];
  }
  REQUIRE(late.header("Dm-Accept-Parts") == "1");
  REQUIRE_OK(responder->publish(late.reply, "one", {{"Dm-Part", "1"}, {"Dm-Parts", "2"}}));
  REQUIRE_OK(responder->publish(late.reply, "two", {{"Dm-Part", "2"}, {"Dm-Parts", "2"}}));
  // The echo's reply comes from the same connection after the late parts, so once it is in,
  // the late parts have been seen (and must have been dropped).
  std::atomic<int> echoed{0};
  conn->request_async("svc.echo", "ping", 5s, [&](dm::Result<bus::Message> r) {
    if (r && r->data == "re:ping") ++echoed;
  });
  REQUIRE(eventually([&] { return echoed == 1; }, 5s));
  REQUIRE(calls == 1);

  // A second part with no first one: the request fails at once instead of waiting.
  std::atomic<int> calls2{0};
  std::atomic<int> code2{-1};
  conn->request_async("svc.late", "y", 10s, [&](dm::Result<bus::Message> r) {
    code2 = r.ok() ? -2 : static_cast<int>(r.error().code);
    ++calls2;
  });
  REQUIRE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return held.size() == 2;
      },
      5s));
  {
    std::lock_guard lock(mu);
    late = held[1];
  }
  REQUIRE_OK(responder->publish(late.reply, "two", {{"Dm-Part", "2"}, {"Dm-Parts", "2"}}));
  REQUIRE(eventually([&] { return calls2 == 1; }, 5s));
  REQUIRE(code2 == static_cast<int>(Errc::internal));
}

TEST_CASE("bus connection may be released from its own callback and outlived by its parts") {
  dm::testing::NatsServer server;
  auto responder = connect(server);
  auto echo = echo_responder(*responder, "svc.echo");

  // The callback holds the last reference: teardown must not deadlock on its own thread.
  std::atomic<bool> called{false};
  {
    auto conn = connect(server);
    auto* raw = conn.get();
    raw->request_async("svc.echo", "x", 2s,
                       [conn = std::move(conn), &called](dm::Result<bus::Message> r) mutable { called = r.ok(); });
  }
  REQUIRE(eventually([&] { return called.load(); }, 5s));

  // A subscription and a fetched message may outlive their connection.
  auto conn = connect(server);
  REQUIRE_OK(conn->jetstream().ensure_stream({.name = "L", .subjects = {"l.>"}}));
  REQUIRE_OK(conn->jetstream().publish("l.a", "x", "", 2s));
  REQUIRE_OK(conn->jetstream().ensure_consumer("L", {.durable = "late"}));
  auto consumer = conn->jetstream().pull_subscribe("L", "late", "");
  REQUIRE_OK(consumer);
  auto msgs = (*consumer)->fetch(1, 2s);
  REQUIRE_OK(msgs);
  REQUIRE(msgs->size() == 1);
  auto sub = conn->subscribe("l.b", "", [](bus::Message&&) {});
  REQUIRE_OK(sub);
  conn.reset();
  REQUIRE(msgs->front().ack().error().code == Errc::unavailable);
  sub->reset();
  consumer->reset();
  std::this_thread::sleep_for(100ms);  // let the detached teardown above finish
}

TEST_CASE("bus jetstream ensure_stream is idempotent and publish de-duplicates by msg_id") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto& js = conn->jetstream();
  bus::StreamConfig config{.name = "EVENTS", .subjects = {"events.>"}};
  REQUIRE_OK(js.ensure_stream(config));
  REQUIRE_OK(js.ensure_stream(config));
  config.max_msgs = 1000;  // other settings: updated in place
  REQUIRE_OK(js.ensure_stream(config));

  auto first = js.publish("events.a", "one", "id-1", 2s, {{"X-Kind", "test"}});
  REQUIRE_OK(first);
  REQUIRE(first->stream == "EVENTS");
  REQUIRE(first->sequence == 1);
  REQUIRE_FALSE(first->duplicate);
  auto second = js.publish("events.a", "one", "id-1", 2s);
  REQUIRE_OK(second);
  REQUIRE(second->duplicate);
  auto state = js.stream_state("EVENTS");
  REQUIRE_OK(state);
  REQUIRE(state->messages == 1);

  REQUIRE(js.stream_state("NOPE").error().code == Errc::not_found);
  auto no_stream = js.publish("nowhere.a", "x", "", 1s);
  REQUIRE_FALSE(no_stream.ok());
  REQUIRE(no_stream.error().code == Errc::unavailable);
  REQUIRE(js.ensure_stream({.name = ""}).error().code == Errc::invalid_argument);
  REQUIRE_OK(js.delete_stream("EVENTS"));
  REQUIRE(js.delete_stream("EVENTS").error().code == Errc::not_found);
}

TEST_CASE("bus jetstream publish_async acks 10000 messages") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto& js = conn->jetstream();
  REQUIRE_OK(js.ensure_stream({.name = "BULK", .subjects = {"bulk.>"}}));

  constexpr int kCount = 10000;
  std::atomic<int> done{0};
  std::atomic<int> acked{0};
  std::mutex mu;
  std::set<std::uint64_t> sequences;
  std::string first_error;
  const auto start = Clock::now();
  for (int i = 0; i < kCount; ++i) {
    js.publish_async("bulk.x", "payload-" + std::to_string(i), "m-" + std::to_string(i),
                     [&](dm::Result<bus::PubAck> r) {
                       std::lock_guard lock(mu);
                       if (r) {
                         sequences.insert(r->sequence);
                         ++acked;
                       } else if (first_error.empty()) {
                         first_error = r.error().message;
                       }
                       ++done;
                     });
  }
  REQUIRE(eventually([&] { return done == kCount; }, 30s));
  WARN("publish_async of " << kCount << " took " << ms_since(start) << " ms");
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock(mu);
  INFO(first_error);
  REQUIRE(done == kCount);
  REQUIRE(acked == kCount);
  REQUIRE(sequences.size() == kCount);
  REQUIRE(js.stream_state("BULK")->messages == kCount);
}

TEST_CASE("bus jetstream pull consumer: ack, nak with delay, term") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto& js = conn->jetstream();
  REQUIRE_OK(js.ensure_stream({.name = "JOBS", .subjects = {"jobs.>"}}));
  bus::ConsumerConfig cc{.durable = "worker", .filter_subject = "jobs.>"};
  REQUIRE_OK(js.ensure_consumer("JOBS", cc));
  REQUIRE_OK(js.ensure_consumer("JOBS", cc));
  cc.max_ack_pending = 500;  // other settings: updated
  REQUIRE_OK(js.ensure_consumer("JOBS", cc));
  REQUIRE(js.ensure_consumer("MISSING", cc).error().code == Errc::not_found);

  REQUIRE_OK(js.publish("jobs.a", "1", "j1", 2s, {{"X-Job", "a"}}));
  REQUIRE_OK(js.publish("jobs.b", "2", "j2", 2s));
  REQUIRE_OK(js.publish("jobs.c", "3", "j3", 2s));

  auto consumer = js.pull_subscribe("JOBS", "worker", "jobs.>");
  REQUIRE_OK(consumer);
  auto got = fetch_until(**consumer, 3, 10);
  REQUIRE(got.size() == 3);
  REQUIRE(got[0].subject() == "jobs.a");
  REQUIRE(got[0].data() == "1");
  REQUIRE(got[0].header("X-Job") == "a");
  REQUIRE(got[0].stream_sequence() == 1);
  REQUIRE(got[2].stream_sequence() == 3);
  REQUIRE(got[0].delivered() == 1);

  REQUIRE_OK(got[0].ack_sync());
  const auto nak_at = Clock::now();
  REQUIRE_OK(got[1].nak(300ms));
  REQUIRE_OK(got[2].term());

  auto again = fetch_until(**consumer, 1, 10);
  REQUIRE(ms_since(nak_at) >= 250);
  REQUIRE(again.size() == 1);
  REQUIRE(again[0].data() == "2");
  REQUIRE(again[0].delivered() == 2);
  REQUIRE_OK(again[0].in_progress());
  REQUIRE_OK(again[0].ack());

  // Acked, and the termed one is never redelivered.
  auto rest = (*consumer)->fetch(10, 700ms);
  REQUIRE_OK(rest);
  REQUIRE(rest->empty());

  // A message outlives its consumer and can still be acked; a moved-from one says so.
  REQUIRE_OK(js.publish("jobs.d", "4", "j4", 2s));
  auto late = (*consumer)->fetch(1, 2s);
  REQUIRE_OK(late);
  REQUIRE(late->size() == 1);
  bus::JsMessage kept = std::move(late->front());
  REQUIRE(late->front().ack().error().code == Errc::internal);
  consumer->reset();
  REQUIRE_OK(kept.ack_sync());

  // pull_subscribe only binds: a missing consumer is not_found (provisioning makes them).
  auto fresh = js.pull_subscribe("JOBS", "fresh", "jobs.a");
  REQUIRE_FALSE(fresh.ok());
  REQUIRE(fresh.error().code == Errc::not_found);
}

TEST_CASE("bus jetstream fetch on an empty stream returns empty after the timeout") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto& js = conn->jetstream();
  REQUIRE_OK(js.ensure_stream({.name = "EMPTY", .subjects = {"empty.>"}}));
  REQUIRE_OK(js.ensure_consumer("EMPTY", {.durable = "idle"}));
  auto consumer = js.pull_subscribe("EMPTY", "idle", "");
  REQUIRE_OK(consumer);
  const auto start = Clock::now();
  auto batch = (*consumer)->fetch(10, 300ms);
  REQUIRE_OK(batch);
  REQUIRE(batch->empty());
  const auto elapsed = ms_since(start);
  REQUIRE(elapsed >= 250);
  REQUIRE(elapsed < 1500);
  REQUIRE((*consumer)->fetch(0, 1s).error().code == Errc::invalid_argument);
}

TEST_CASE("bus jetstream pull consumer keeps a request open: a message arrives as it is stored") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto& js = conn->jetstream();
  REQUIRE_OK(js.ensure_stream({.name = "LIVE", .subjects = {"live.>"}}));
  REQUIRE_OK(js.ensure_consumer("LIVE", {.durable = "live", .ack_wait = 30s}));
  auto consumer = js.pull_subscribe("LIVE", "live", "");
  REQUIRE_OK(consumer);
  REQUIRE((*consumer)->fetch(8, 100ms)->empty());  // the request is open now

  // A fetch waiting for up to 8 returns with the one that came, at once, not at its timeout.
  std::thread later([&] {
    std::this_thread::sleep_for(200ms);
    REQUIRE_OK(js.publish("live.a", "1", "", 2s));
  });
  const auto start = Clock::now();
  auto one = (*consumer)->fetch(8, 5s);
  later.join();
  REQUIRE_OK(one);
  REQUIRE(one->size() == 1);
  REQUIRE(ms_since(start) < 2000);
  // Acks confirmed by the server here and below, so none is still in flight when the server
  // stops below (its message would stay pending across the restart).
  REQUIRE_OK(one->front().ack_sync());

  // Many small fetches: every message once, in order.
  for (int i = 0; i < 20; ++i) REQUIRE_OK(js.publish("live.b", std::to_string(i), "", 2s));
  std::vector<std::string> seen;
  REQUIRE(eventually(
      [&] {
        auto got = (*consumer)->fetch(3, 200ms);
        REQUIRE_OK(got);
        REQUIRE(got->size() <= 3);
        for (auto& m : *got) {
          seen.emplace_back(m.data());
          REQUIRE_OK(m.ack_sync());
        }
        return seen.size() >= 20;
      },
      5s));
  REQUIRE(seen.size() == 20);
  for (int i = 0; i < 20; ++i) REQUIRE(seen[static_cast<std::size_t>(i)] == std::to_string(i));

  // The server restarts and forgets the open requests: the consumer asks again by itself once
  // they are past their expiry (same batch: nothing else would make it ask).
  server.stop();
  server.start();
  REQUIRE(eventually([&] { return conn->connected(); }, 10s));
  // With an id: a try that timed out after the stream took it must not leave a second copy
  // (it would show up below as a first delivery among the redelivered ones).
  REQUIRE(eventually([&] { return js.publish("live.c", "after", "after-1", 1s).ok(); }, 10s));
  auto after = fetch_until(**consumer, 1, 3, 10s);
  REQUIRE(after.size() == 1);
  REQUIRE(after.front().data() == "after");
  REQUIRE_OK(after.front().ack_sync());

  // What arrived but was never handed out goes back when the consumer goes, long before the
  // 30 s ack wait: the next consumer gets it as a second delivery. On a durable of its own:
  // requests of the one above may still be open with room left, and a nak redelivered into a
  // request whose subscriber is gone is lost until the ack wait (nats-server 2.9 may then also
  // hand out a later message a second time as a first delivery).
  REQUIRE_OK(js.ensure_consumer("LIVE", {.durable = "handover", .filter_subject = "live.d", .ack_wait = 30s}));
  auto handover = js.pull_subscribe("LIVE", "handover", "live.d");
  REQUIRE_OK(handover);
  REQUIRE((*handover)->fetch(4, 100ms)->empty());  // one request for 4, open now
  for (int i = 0; i < 4; ++i) REQUIRE_OK(js.publish("live.d", std::to_string(i), "", 2s));
  auto first = fetch_until(**handover, 1, 1);
  REQUIRE(first.size() == 1);
  REQUIRE_OK(first.front().ack_sync());
  // The other 3 were sent to this process meanwhile (delivered, not acked), and the request
  // was used up: none of it is left for a redelivery to go to.
  REQUIRE(eventually([&] { return js.consumer_state("LIVE", "handover")->ack_pending == 3; }, 5s));
  handover->reset();
  auto next = js.pull_subscribe("LIVE", "handover", "live.d");
  REQUIRE_OK(next);
  auto rest = fetch_until(**next, 3, 8);
  REQUIRE(rest.size() == 3);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(rest[static_cast<std::size_t>(i)].data() == std::to_string(i + 1));
    REQUIRE(rest[static_cast<std::size_t>(i)].delivered() == 2);
  }
}

TEST_CASE("bus jetstream DiscardNew rejects publishes to a full stream") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto& js = conn->jetstream();
  REQUIRE_OK(js.ensure_stream({.name = "ONE", .subjects = {"one.>"}, .max_msgs = 1, .discard_new = true}));
  REQUIRE_OK(js.publish("one.a", "1", "", 2s));
  auto full = js.publish("one.a", "2", "", 2s);
  REQUIRE_FALSE(full.ok());
  REQUIRE(full.error().code == Errc::unavailable);

  std::atomic<int> calls{0};
  std::atomic<int> code{-1};
  js.publish_async("one.a", "3", "", [&](dm::Result<bus::PubAck> r) {
    code = r.ok() ? -2 : static_cast<int>(r.error().code);
    ++calls;
  });
  REQUIRE(eventually([&] { return calls == 1; }, 10s));
  REQUIRE(code == static_cast<int>(Errc::unavailable));
  REQUIRE(js.stream_state("ONE")->messages == 1);
}

TEST_CASE("bus jetstream work-queue retention removes acked messages; metadata tells when a message was stored") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto& js = conn->jetstream();
  REQUIRE_OK(js.ensure_stream({.name = "WORK", .subjects = {"work.>"}, .retention = bus::Retention::work_queue}));
  REQUIRE_OK(js.ensure_consumer("WORK", {.durable = "workers"}));
  auto before = std::chrono::system_clock::now() - 1s;
  for (int i = 0; i < 3; ++i) REQUIRE_OK(js.publish("work.a", std::to_string(i), "", 2s));
  auto consumer = js.pull_subscribe("WORK", "workers", "");
  REQUIRE_OK(consumer);
  // A fetch returns once messages came: the three may come in more than one.
  auto got = fetch_until(**consumer, 3, 3);
  REQUIRE(got.size() == 3);
  REQUIRE(got[0].stored_at() > before);
  REQUIRE(got[0].stored_at() < std::chrono::system_clock::now() + 1s);
  REQUIRE_OK(got[0].ack_sync());
  REQUIRE_OK(got[1].ack_sync());
  REQUIRE(js.stream_state("WORK")->messages == 1);
  REQUIRE(conn->max_payload() == 1024 * 1024);
  // The retention of an existing stream cannot change: NATS refuses the update.
  auto changed = js.ensure_stream({.name = "WORK", .subjects = {"work.>"}});
  INFO((changed.ok() ? std::string("accepted") : changed.error().message));
  REQUIRE_FALSE(changed.ok());
}

TEST_CASE("bus connection survives a server restart without reconnecting by hand") {
  dm::testing::NatsServer server;
  auto responder = connect(server);
  auto conn = connect(server);
  auto echo = echo_responder(*responder, "svc.echo");
  auto& js = conn->jetstream();
  REQUIRE_OK(js.ensure_stream({.name = "R", .subjects = {"r.>"}}));
  REQUIRE_OK(js.publish("r.a", "before", "", 2s));
  REQUIRE_OK(conn->request("svc.echo", "x", 2s));

  bus::Options quick_options;
  quick_options.url = server.url();
  quick_options.jetstream_timeout = 400ms;
  auto quick = bus::Connection::connect(quick_options);
  REQUIRE_OK(quick);

  server.stop();
  REQUIRE(eventually([&] { return !conn->connected(); }, 5s));
  // An async publish nobody acks still gets its callback, once.
  std::atomic<int> calls{0};
  std::atomic<int> code{-1};
  const auto start = Clock::now();
  (*quick)->jetstream().publish_async("r.a", "lost", "", [&](dm::Result<bus::PubAck> r) {
    code = r.ok() ? -2 : static_cast<int>(r.error().code);
    ++calls;
  });
  REQUIRE(eventually([&] { return calls == 1; }, 5s));
  REQUIRE((code == static_cast<int>(Errc::timeout) || code == static_cast<int>(Errc::unavailable)));
  REQUIRE(ms_since(start) < 2500);

  auto down = js.publish("r.a", "during", "", 500ms);
  REQUIRE_FALSE(down.ok());
  REQUIRE((down.error().code == Errc::unavailable || down.error().code == Errc::timeout));
  auto req = conn->request("svc.echo", "x", 300ms);
  REQUIRE_FALSE(req.ok());
  REQUIRE((req.error().code == Errc::unavailable || req.error().code == Errc::timeout));

  server.start();
  REQUIRE(eventually([&] { return conn->connected() && responder->connected(); }, 10s));
  // JetStream needs a moment after the server is back to recover its streams.
  dm::Result<bus::PubAck> after = dm::Error(Errc::internal, "not tried");
  REQUIRE(eventually(
      [&] {
        after = js.publish("r.a", "after", "", 1s);
        return after.ok();
      },
      10s));
  REQUIRE(after->sequence >= 2);
  dm::Result<bus::Message> back = dm::Error(Errc::internal, "not tried");
  REQUIRE(eventually(
      [&] {
        back = conn->request("svc.echo", "again", 1s);
        return back.ok();
      },
      10s));
  REQUIRE(back->data == "re:again");
  REQUIRE(conn->stats().reconnects >= 1);
  std::this_thread::sleep_for(200ms);
  REQUIRE(calls == 1);
}

TEST_CASE("bus connect succeeds before the server is up and connects when it comes") {
  dm::testing::NatsServer server;
  server.stop();
  bus::Options options;
  options.url = server.url();
  auto conn = bus::Connection::connect(options);
  REQUIRE_OK(conn);
  REQUIRE_FALSE((*conn)->connected());
  auto early = (*conn)->request("svc.echo", "x", 200ms);
  REQUIRE_FALSE(early.ok());
  server.start();
  REQUIRE(eventually([&] { return (*conn)->connected(); }, 10s));
  auto echo = echo_responder(**conn, "svc.echo");
  REQUIRE_OK((*conn)->request("svc.echo", "x", 2s));
}

TEST_CASE("bus drain finishes in-flight handlers then closes") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto publisher = connect(server);
  std::atomic<int> handled{0};
  auto sub = conn->subscribe("work", "", [&](bus::Message&&) {
    std::this_thread::sleep_for(50ms);
    ++handled;
  });
  REQUIRE_OK(sub);
  REQUIRE_OK(conn->flush(2s));
  for (int i = 0; i < 5; ++i) REQUIRE_OK(publisher->publish("work", "x"));
  REQUIRE_OK(publisher->flush(2s));
  REQUIRE(eventually([&] { return handled >= 1; }, 5s));

  // Async publishes in flight are settled before the close.
  auto& js = conn->jetstream();
  REQUIRE_OK(js.ensure_stream({.name = "D", .subjects = {"d.>"}}));
  std::atomic<int> acked{0};
  for (int i = 0; i < 100; ++i) js.publish_async("d.x", "x", "", [&](dm::Result<bus::PubAck> r) { acked += r.ok(); });

  REQUIRE_OK(conn->drain(5s));
  REQUIRE(handled == 5);
  REQUIRE(acked == 100);
  REQUIRE_FALSE(conn->connected());
  auto after = conn->publish("work", "late");
  REQUIRE_FALSE(after.ok());
  REQUIRE(after.error().code == Errc::unavailable);
  REQUIRE(conn->request("work", "x", 100ms).error().code == Errc::unavailable);
  REQUIRE_OK(conn->drain(1s));  // again: already closed is fine
}

// A stream without a leader answers "no responders" (on a cluster: while its Raft group elects
// one). publish_async holds such a message and sends it again until the ack timeout, so a
// leader that appears in time turns the publish into an ack, not an error.
TEST_CASE("bus jetstream publish_async waits out a stream without a leader, within the ack timeout") {
  dm::testing::NatsServer server;
  auto conn = connect(server);
  auto& js = conn->jetstream();
  std::atomic<int> calls{0};
  std::atomic<long long> acked_at{-1};
  std::atomic<int> code{-1};
  const auto start = Clock::now();
  js.publish_async("late.a", "x", "late-1", [&](dm::Result<bus::PubAck> r) {
    if (r.ok())
      acked_at = ms_since(start);
    else
      code = static_cast<int>(r.error().code);
    ++calls;
  });
  std::this_thread::sleep_for(1s);
  REQUIRE(calls == 0);  // held, not failed
  REQUIRE_OK(js.ensure_stream({.name = "LATE", .subjects = {"late.>"}}));
  REQUIRE(eventually([&] { return calls == 1; }, 10s));
  REQUIRE(acked_at >= 1000);
  REQUIRE(js.stream_state("LATE")->messages == 1);

  // Never a stream: the publish fails once its time is up, as unavailable.
  calls = 0;
  const auto again = Clock::now();
  js.publish_async("nowhere.a", "x", "", [&](dm::Result<bus::PubAck> r) {
    code = r.ok() ? -2 : static_cast<int>(r.error().code);
    ++calls;
  });
  REQUIRE(eventually([&] { return calls == 1; }, 15s));
  REQUIRE(code == static_cast<int>(Errc::unavailable));
  REQUIRE(ms_since(again) >= 4000);  // the default ack timeout is 5 s
}

// nats.c keeps each async publish until its ack; we give it no deadline of its own (MaxWait
// costs a timer, a message and two wake-ups per publish). When an ack is lost, the publish
// fails as a timeout and what nats.c still holds beside it is taken back and sent again, so
// nothing is left in nats.c's map for good. Here two core subscribers stand in for streams:
// one never answers, the other answers a message only from its second copy on.
TEST_CASE("bus jetstream publish_async: a lost ack times out, and what was in flight beside it is sent again") {
  dm::testing::NatsServer server;
  bus::Options options;
  options.url = server.url();
  options.name = "bus-test";
  // Wide margins for a loaded machine: "second-1" must go out well before "lost-1" times out,
  // and be taken back well before its own time is up.
  options.jetstream_timeout = 3000ms;
  auto made = bus::Connection::connect(options);
  REQUIRE_OK(made);
  auto conn = *made;
  REQUIRE(eventually([&] { return conn->connected(); }, 5s));

  auto silent = conn->subscribe("lost.a", "", [](bus::Message&&) {});
  REQUIRE_OK(silent);
  std::mutex mu;
  std::vector<std::string> copies;  // Nats-Msg-Id of each copy that reached "second.a"
  auto second = conn->subscribe("second.a", "", [&](bus::Message&& m) {
    std::lock_guard lock(mu);
    copies.push_back(m.header("Nats-Msg-Id").value_or(""));
    if (copies.size() >= 2) (void)conn->respond(m, R"({"stream":"FAKE","seq":7})");
  });
  REQUIRE_OK(second);
  REQUIRE_OK(conn->flush(2s));

  std::atomic<int> lost_code{-1};
  std::atomic<std::uint64_t> second_seq{0};
  std::atomic<int> calls{0};
  const auto start = Clock::now();
  conn->jetstream().publish_async("lost.a", "x", "lost-1", [&](dm::Result<bus::PubAck> r) {
    lost_code = r.ok() ? -2 : static_cast<int>(r.error().code);
    ++calls;
  });
  std::this_thread::sleep_for(1000ms);
  conn->jetstream().publish_async("second.a", "y", "second-1", [&](dm::Result<bus::PubAck> r) {
    if (r.ok()) second_seq = r->sequence;
    ++calls;
  });
  REQUIRE(eventually([&] { return calls == 2; }, 10s));
  REQUIRE(lost_code == static_cast<int>(Errc::timeout));
  REQUIRE(ms_since(start) >= 3000);
  REQUIRE(second_seq == 7);  // acked from its second copy, sent when the first publish's ack was lost
  std::lock_guard lock(mu);
  REQUIRE(copies == std::vector<std::string>{"second-1", "second-1"});
}

// destroy_nats_msg frees a message on the caller's thread instead of waking nats.c's garbage
// collector; it relies on the library's message layout, checked at run time. A nats.c whose
// layout differs still works (the collector frees), but this fails so the cost is noticed.
TEST_CASE("bus nats.c's message layout is the one destroy_nats_msg expects") {
  REQUIRE(bus::frees_inline());
  auto msg = bus::make_nats_msg("a.b", "", "payload", {{"K", "v"}});
  REQUIRE_OK(msg);
  msg->reset();  // freed at once (under ASan a bad layout would show here)
  REQUIRE(*msg == nullptr);
}
