// tools/load/offer against a real HTTP server that answers each request after a delay of its
// choosing and notes how many requests it holds at once.
#include "offer.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "dm/http/server.hpp"
#include "dm/testing/testing.hpp"

using namespace dm;
using Clock = std::chrono::steady_clock;

namespace {

class SlowServer {
 public:
  explicit SlowServer(std::chrono::milliseconds delay) : delay_(delay) {
    auto router = std::make_shared<http::Router>();
    router->add("POST", "/in", [this](const http::Request& req, http::Reply reply) {
      std::lock_guard lock(mu_);
      held_ = held_ + 1;
      most_held_ = std::max(most_held_, held_);
      bodies_.push_back(req.body);
      arrivals_.push_back(Clock::now());
      answers_.push_back({Clock::now() + delay_, std::move(reply)});
      wake_.notify_one();
    });
    server_ = std::make_unique<http::Server>(http::ServerOptions{.host = "127.0.0.1", .port = 0, .threads = 2}, router);
    REQUIRE(server_->start().ok());
    answerer_ = std::thread([this] { answer_loop(); });
  }
  ~SlowServer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_one();
    answerer_.join();
    server_->stop();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/in"; }
  int most_held() {
    std::lock_guard lock(mu_);
    return most_held_;
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::vector<Clock::time_point> arrivals() {
    std::lock_guard lock(mu_);
    return arrivals_;
  }

 private:
  void answer_loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (answers_.empty()) {
        wake_.wait(lock);
        continue;
      }
      auto due = answers_.front().first;
      if (Clock::now() < due) {
        wake_.wait_until(lock, due);
        continue;
      }
      auto reply = std::move(answers_.front().second);
      answers_.pop_front();
      --held_;
      lock.unlock();
      reply(http::Response::json(200, R"({"ok":true})"));
      lock.lock();
    }
  }

  std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::condition_variable wake_;
  int held_ = 0, most_held_ = 0;
  std::vector<std::string> bodies_;
  std::vector<Clock::time_point> arrivals_;
  std::deque<std::pair<Clock::time_point, http::Reply>> answers_;
  bool stop_ = false;
  std::unique_ptr<http::Server> server_;
  std::thread answerer_;
};

tools::BodyFor numbered = [](std::uint64_t n, std::chrono::system_clock::time_point) { return std::to_string(n); };

}  // namespace

TEST_CASE("offer: paced requests go at their rate, each numbered once") {
  SlowServer server(std::chrono::milliseconds(1));
  auto result = tools::offer(
      {.url = server.url(), .rate = 200, .duration = std::chrono::seconds(5), .max_requests = 200, .in_flight = 8},
      numbered);
  CHECK(result.ok == 200);
  CHECK(result.statuses == std::map<int, std::uint64_t>{{200, 200}});
  CHECK(result.latencies_ms.size() == 200);
  auto bodies = server.bodies();
  std::set<std::string> distinct(bodies.begin(), bodies.end());
  CHECK(distinct.size() == 200);
  CHECK(distinct.count("0") == 1);
  CHECK(distinct.count("199") == 1);
  // Paced, not a burst: the 101st request is due half a second after the first (a busy
  // machine may send the first late, or a few at once after a stall).
  auto arrivals = server.arrivals();
  REQUIRE(arrivals.size() == 200);
  std::sort(arrivals.begin(), arrivals.end());
  const auto half = std::chrono::duration<double>(arrivals[100] - arrivals[0]).count();
  CHECK(half > 0.3);
  CHECK(half < 1.0);
}

TEST_CASE("offer: never more than in_flight at once; a slow server holds the next ones back") {
  // 8 at a time answered after 40 ms is at most 200/s: the 400/s asked for cannot be met,
  // so the requests wait for slots and their latency (from their scheduled time) grows.
  SlowServer server(std::chrono::milliseconds(40));
  auto result = tools::offer(
      {.url = server.url(), .rate = 400, .duration = std::chrono::seconds(10), .max_requests = 100, .in_flight = 8},
      numbered);
  CHECK(result.ok == 100);
  CHECK(server.most_held() == 8);
  CHECK(result.seconds > 0.45);  // 100 / 200 per second, not 100 / 400
  CHECK(*std::max_element(result.latencies_ms.begin(), result.latencies_ms.end()) > 200);
}

TEST_CASE("offer: flat out sends exactly max_requests, in_flight at a time") {
  SlowServer server(std::chrono::milliseconds(0));
  auto result = tools::offer({.url = server.url(), .max_requests = 300, .in_flight = 4}, numbered);
  CHECK(result.ok == 300);
  CHECK(server.most_held() <= 4);
  auto bodies = server.bodies();
  CHECK(std::set<std::string>(bodies.begin(), bodies.end()).size() == 300);
}

TEST_CASE("offer: a server that is not there counts as transport errors, not answers") {
  const int port = testing::free_port();
  auto result = tools::offer({.url = "http://127.0.0.1:" + std::to_string(port) + "/in", .max_requests = 5}, numbered);
  CHECK(result.ok == 0);
  CHECK(result.statuses == std::map<int, std::uint64_t>{{0, 5}});
  CHECK_FALSE(result.last_error.empty());
}
