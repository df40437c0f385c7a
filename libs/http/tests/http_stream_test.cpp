// Streamed responses (dm/http/stream.hpp) through the real server, read over plain sockets.

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "dm/http/router.hpp"
#include "dm/http/server.hpp"
#include "dm/http/stream.hpp"
#include "dm/testing/raw_connection.hpp"

using namespace dm::http;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using Conn = dm::testing::RawConnection;

namespace {

// A route that answers every GET /events with a new stream, kept here for the test to write to.
struct Streams {
  explicit Streams(Router& router, StreamOptions options = {}) {
    router.add("GET", "/events", [this, options](const Request&, Reply reply) {
      auto stream = std::make_shared<Stream>(options);
      stream->on_end([this] { ended.fetch_add(1); });
      {
        std::lock_guard lock(mu);
        made.push_back(stream);
      }
      auto res = Response::streaming(stream, "text/event-stream");
      res.headers.set("Cache-Control", "no-store");
      reply(std::move(res));
    });
  }
  std::shared_ptr<Stream> wait_for(std::size_t n) {
    auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (made.size() >= n) return made[n - 1];
      }
      std::this_thread::sleep_for(5ms);
    }
    FAIL("no stream " << n);
    return nullptr;
  }
  bool wait_ended(int n, std::chrono::milliseconds timeout = 5s) {
    auto deadline = Clock::now() + timeout;
    while (ended.load() < n && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return ended.load() >= n;
  }
  std::mutex mu;
  std::vector<std::shared_ptr<Stream>> made;
  std::atomic<int> ended{0};
};

struct TestServer {
  explicit TestServer(std::shared_ptr<Router> r, ServerOptions opt = {}) {
    opt.host = "127.0.0.1";
    server = std::make_unique<Server>(opt, std::move(r));
    REQUIRE(server->start().ok());
  }
  int port() const { return server->port(); }
  std::unique_ptr<Server> server;
};

const std::string kGet = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";

}  // namespace

TEST_CASE("stream: head without a length, chunks in order from another thread, close ends the response") {
  auto router = std::make_shared<Router>();
  Streams streams(*router);
  TestServer ts(router);
  Conn c(ts.port(), kGet);
  auto stream = streams.wait_for(1);
  REQUIRE(c.read_until("\r\n\r\n"));
  const auto& head = c.received();
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(head.find("Content-Type: text/event-stream\r\n") != std::string::npos);
  CHECK(head.find("Cache-Control: no-store\r\n") != std::string::npos);
  CHECK(head.find("Connection: close\r\n") != std::string::npos);
  CHECK(head.find("Content-Length") == std::string::npos);
  CHECK(head.find("Transfer-Encoding") == std::string::npos);

  std::thread writer([stream] {
    for (int i = 0; i < 100; ++i) REQUIRE(stream->write("data: " + std::to_string(i) + "\n\n"));
    stream->close();
  });
  writer.join();
  REQUIRE(c.read_until_closed());
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "data: " + std::to_string(i) + "\n\n";
  CHECK(c.received().substr(c.received().find("\r\n\r\n") + 4) == expected);
  REQUIRE(streams.wait_ended(1));
  CHECK_FALSE(stream->write("late"));
}

TEST_CASE("stream: keep-alive chunks while quiet, and max_duration ends it") {
  auto router = std::make_shared<Router>();
  StreamOptions opt;
  opt.keepalive = 100ms;
  opt.keepalive_chunk = ": ping\n\n";
  opt.max_duration = 700ms;
  Streams streams(*router, opt);
  TestServer ts(router);
  Conn c(ts.port(), kGet);
  auto t0 = Clock::now();
  REQUIRE(c.read_until(": ping\n\n: ping\n\n"));
  REQUIRE(c.read_until_closed());
  auto took = Clock::now() - t0;
  CHECK(took >= 600ms);
  CHECK(took < 4s);
  REQUIRE(streams.wait_ended(1));
}

TEST_CASE("stream: a client that leaves ends it at once; later writes fail") {
  auto router = std::make_shared<Router>();
  Streams streams(*router);  // keep-alive every 15 s: the departure must be seen without a write
  TestServer ts(router);
  auto c = std::make_unique<Conn>(ts.port(), kGet);
  auto stream = streams.wait_for(1);
  REQUIRE(stream->write("data: hello\n\n"));
  REQUIRE(c->read_until("hello"));
  c.reset();
  REQUIRE(streams.wait_ended(1, 3s));
  CHECK_FALSE(stream->write("data: nobody\n\n"));
  CHECK(stream->closed());
  auto deadline = Clock::now() + 3s;
  while (ts.server->stats().active_connections > 0 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  CHECK(ts.server->stats().active_connections == 0);
}

TEST_CASE("stream: a client that does not read is dropped once its queue is full") {
  auto router = std::make_shared<Router>();
  StreamOptions opt;
  opt.max_queued_bytes = 64 << 10;
  Streams streams(*router, opt);
  TestServer ts(router);
  Conn c(ts.port(), kGet);  // never reads
  auto stream = streams.wait_for(1);
  const std::string chunk(8 << 10, 'x');
  // The kernel's socket buffers take a few MB first; then the queue fills and the write fails.
  int accepted = 0;
  auto deadline = Clock::now() + 10s;
  while (stream->write(chunk) && Clock::now() < deadline) {
    ++accepted;
    std::this_thread::sleep_for(1ms);  // lets the server move the queue into the kernel's buffers
  }
  CHECK(stream->overflowed());
  CHECK(accepted > 8);  // more than one queue's worth went out before the client was dropped
  REQUIRE(streams.wait_ended(1));
  CHECK_FALSE(stream->write("x"));
}

TEST_CASE("stream: stop() ends streams at once instead of waiting out the grace period") {
  auto router = std::make_shared<Router>();
  Streams streams(*router);
  TestServer ts(router);
  Conn c(ts.port(), kGet);
  auto stream = streams.wait_for(1);
  REQUIRE(stream->write("data: x\n\n"));
  REQUIRE(c.read_until("data: x"));
  auto t0 = Clock::now();
  ts.server->stop(10s);
  CHECK(Clock::now() - t0 < 3s);
  CHECK(streams.ended.load() == 1);
  CHECK(c.read_until_closed());
}

TEST_CASE("stream: HEAD gets the head only") {
  auto router = std::make_shared<Router>();
  Streams streams(*router);
  TestServer ts(router);
  Conn c(ts.port(), "HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(c.read_until_closed());
  CHECK(c.received().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(c.received().substr(c.received().find("\r\n\r\n") + 4).empty());
  REQUIRE(streams.wait_ended(1));
}

TEST_CASE("stream: writes queue until the server takes them; overflow drops what was queued") {
  StreamOptions opt;
  opt.max_queued_bytes = 10;
  Stream s(opt);
  int wakes = 0;
  s.set_waker([&] { ++wakes; });
  CHECK(s.write("abcd"));
  CHECK(s.write("efgh"));
  CHECK(wakes == 1);  // one wake-up until the server takes
  auto t = s.take();
  CHECK(t.chunks.size() == 2);
  CHECK_FALSE(t.closed);
  CHECK(s.write("0123456789"));
  CHECK(wakes == 2);
  CHECK_FALSE(s.write("x"));
  CHECK(s.overflowed());
  t = s.take();
  CHECK(t.chunks.empty());
  CHECK(t.overflowed);
  int ended = 0;
  s.on_end([&] { ++ended; });
  s.ended();
  s.ended();
  CHECK(ended == 1);
}
