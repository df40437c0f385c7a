#pragma once
// Test helpers on top of NATS: collect what is published on a subject (waiting with
// testing.hpp's eventually). Header-only so libs/testing itself needs no NATS; tests that include it link dm::bus.
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/testing/testing.hpp"

namespace dm::testing {

// A connection to a test NATS server, once it is connected (throws otherwise).
inline std::shared_ptr<bus::Connection> connect_bus(const std::string& nats_url, const std::string& name) {
  auto c = bus::Connection::connect({.url = nats_url, .name = name});
  if (!c) throw std::runtime_error("connect: " + c.error().message);
  auto conn = std::move(c).value();
  if (!eventually([&] { return conn->connected(); }, std::chrono::seconds(5)))
    throw std::runtime_error("connect: not connected to " + nats_url);
  return conn;
}

// Subscribes on construction (flushed, so nothing published afterwards is missed) and keeps
// every message it receives.
class MessageCollector {
 public:
  MessageCollector(const std::string& nats_url, const std::string& subject) {
    auto c = bus::Connection::connect({.url = nats_url, .name = "test-collector"});
    if (!c) throw std::runtime_error("collector: " + c.error().message);
    conn_ = std::move(c).value();
    auto sub = conn_->subscribe(subject, "", [this](bus::Message&& m) {
      std::lock_guard lock(mu_);
      messages_.push_back(std::move(m));
    });
    if (!sub) throw std::runtime_error("collector: " + sub.error().message);
    sub_ = std::move(sub).value();
    if (auto f = conn_->flush(std::chrono::seconds(2)); !f) throw std::runtime_error("collector: " + f.error().message);
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }
  std::vector<bus::Message> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return eventually([&] { return count() >= n; }, timeout);
  }

 private:
  std::shared_ptr<bus::Connection> conn_;
  std::unique_ptr<bus::Subscription> sub_;
  std::mutex mu_;
  std::vector<bus::Message> messages_;
};

}  // namespace dm::testing
