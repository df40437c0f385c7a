#pragma once
// The fault suite's ledger: every uplink ingest acknowledged (2xx) against what reached the
// receiver and what each history recorded.
//
// Every uplink carries a number n (its fCnt, and its dedup id "<tag>-<n>"); the flow's function
// passes n on, so the receiver knows which uplink each delivery belongs to.
//   LOST  acknowledged uplinks never delivered
//   DUP   uplinks delivered under more than one Idempotency-Key (a repeat with the same key is
//         the at-least-once contract: the receiver can tell it is one delivery)
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dm/http/server.hpp"
#include "dm/testing/api.hpp"
#include "dm/testing/stack.hpp"

namespace dm::fault {

using Clock = std::chrono::steady_clock;

// An HTTP endpoint standing for the users' receiver. Deliveries go to /<path>; a body is
// {"n": <number>, ...}.
class Receiver {
 public:
  Receiver();
  ~Receiver();
  std::string url(const std::string& path) const;
  struct Seen {
    std::set<std::string> keys;  // Idempotency-Key headers
    int times = 0;
  };
  std::map<std::int64_t, Seen> seen(const std::string& path) const;
  std::size_t distinct(const std::string& path) const;
  // The longest time within [from, to] with no delivery to /<path> (the edges count as
  // deliveries): how long the flow of deliveries stopped.
  double longest_pause(const std::string& path, Clock::time_point from, Clock::time_point to) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::int64_t, Seen>> by_path_;
  std::map<std::string, std::vector<Clock::time_point>> arrivals_;
  std::unique_ptr<http::Server> server_;
};

// Polls every given /readyz URL ten times a second from construction to destruction and keeps
// the longest stretch in which some service was not ready (down, or not connected to NATS or
// PostgreSQL): from the first poll that found one not ready to the first that found all ready.
class ReadinessWatch {
 public:
  explicit ReadinessWatch(std::vector<std::string> readyz_urls);
  ~ReadinessWatch();
  double longest_unready_s() const;

 private:
  void run();
  std::vector<std::string> urls_;
  std::atomic<bool> running_{true};
  mutable std::mutex mu_;
  double longest_ = 0;
  std::thread thread_;
};

// Lines written by `mosquitto_sub -v` (topic, space, payload): the numbers received.
std::map<std::int64_t, int> mqtt_seen(const std::string& path);

// Posts ChirpStack v4 uplinks to ingest's webhook at a steady rate from a few threads,
// round-robin over the devices, and remembers which numbers were acknowledged.
class Load {
 public:
  Load(const testing::Stack& stack, std::string secret, std::vector<std::string> dev_euis, std::string tag,
       double rate);
  ~Load();
  void start();
  void stop();
  std::vector<std::int64_t> acked() const;
  std::size_t refused() const { return refused_; }
  // Why webhooks were refused: "<status> <detail>" → how many.
  std::map<std::string, std::size_t> refusals() const;
  // Posts one uplink now (outside the steady load) and tells whether it was acknowledged.
  bool post(std::int64_t n, const std::string& object = "{}");
  std::string dedup_id(std::int64_t n) const { return tag_ + "-" + std::to_string(n); }
  // The number of an uplink from its dedup id (-1 when it is not this load's).
  std::int64_t number_of(std::string_view dedup_id) const;

 private:
  void run(int worker, int workers);
  std::string body(std::int64_t n, const std::string& object) const;

  std::string url_, secret_, tag_;
  std::vector<std::string> euis_;
  double rate_;
  std::atomic<bool> running_{false};
  std::atomic<std::int64_t> next_{1};
  std::atomic<std::size_t> refused_{0};
  mutable std::mutex mu_;
  std::vector<std::int64_t> acked_;
  std::map<std::string, std::size_t> refusals_;
  std::vector<std::thread> threads_;
};

// What one case found.
struct Report {
  std::string name;
  std::size_t acked = 0, delivered = 0, lost = 0, dup = 0, refused = 0;
  std::map<std::string, std::size_t> missing;  // history → acknowledged uplinks it lacks
  double outage_s = 0, drain_s = 0, budget_s = 0;
  double pause_s = -1;   // longest stop in deliveries while the load ran (HTTP cases)
  double unready_s = 0;  // longest time until every service was ready (connected) again
  bool drained = false;
  std::vector<std::string> notes;
  bool ok() const;
  std::string line() const;
};

// REST calls through the gateway as the stack's admin.
class Api {
 public:
  explicit Api(testing::Stack& stack);
  testing::ApiReply call(const std::string& method, const std::string& target, const std::string& body = {});
  std::string create(const std::string& path, const std::string& body);  // → id, 201 required
  // Every page of a list endpoint (limit 1000): the string field `field` of each item.
  std::vector<std::string> all(const std::string& target, const char* field);

 private:
  std::string token_;
  std::unique_ptr<http::Client> client_;
  std::mutex mu_;
};

// Which acknowledged numbers a history lacks; `numbers` are those the history holds.
std::size_t count_missing(const std::vector<std::int64_t>& acked, const std::set<std::int64_t>& numbers);

// Waits until `done()` or the deadline; true when done.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(200));

}  // namespace dm::fault
