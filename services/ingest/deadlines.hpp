#pragma once
// Answers a webhook 503 when its publish (or registry lookup) has not finished within a fixed
// time. The bus library's own ack timeout (jetstream_timeout + a grace) is longer than the 5 s
// ChirpStack waits; a connection lost mid-flight must still get a quick, honest answer. All
// deadlines are `now + one constant`, so a FIFO queue is already in expiry order.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "dm/http/message.hpp"

namespace dm::ingest {

// Calls the wrapped reply once; later calls (the late ack after a 503) are dropped.
class OnceReply {
 public:
  explicit OnceReply(http::Reply reply) : reply_(std::move(reply)) {}
  void operator()(http::Response response) {
    if (!done_.exchange(true)) reply_(std::move(response));
  }
  bool done() const { return done_.load(); }

 private:
  std::atomic<bool> done_{false};
  http::Reply reply_;
};

class Deadlines {
 public:
  explicit Deadlines(std::chrono::milliseconds timeout);
  ~Deadlines();
  // `on_expire` runs on the timer thread unless `reply` was answered before the deadline.
  void add(std::shared_ptr<OnceReply> reply, std::function<void(OnceReply&)> on_expire);

 private:
  void run();
  struct Item {
    std::chrono::steady_clock::time_point at;
    std::shared_ptr<OnceReply> reply;
    std::function<void(OnceReply&)> on_expire;
  };
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dm::ingest
