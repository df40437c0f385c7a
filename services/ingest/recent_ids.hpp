#pragma once
// Message ids this process published recently. JetStream's Nats-Msg-Id dedup keeps a
// duplicate out of the stream, but the server still forwards the published message to plain
// NATS subscribers of the subject: without this guard a tap would see ChirpStack's repeat.
// A repeat that arrives while the first copy is still being published waits for its outcome,
// so it is never answered 2xx for an event that was not stored. Bounded in size and age; across
// restarts and replicas the stream's own dedup still protects every durable consumer.
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace dm::ingest {

class RecentIds {
 public:
  using Clock = std::chrono::steady_clock;
  RecentIds(std::size_t capacity, std::chrono::milliseconds max_age) : capacity_(capacity), max_age_(max_age) {}

  enum class Seen { fresh, stored, pending };
  // fresh: the caller publishes and must call finish(). stored: already in the stream.
  // pending: another request is publishing it; `waiter(stored)` is called by finish().
  Seen begin(const std::string& id, std::function<void(bool stored)> waiter);
  void finish(const std::string& id, bool stored);
  std::size_t size() const;

 private:
  struct Entry {
    bool stored = false;
    Clock::time_point at;
    std::vector<std::function<void(bool)>> waiters;
  };
  void evict(Clock::time_point now);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<std::string, Clock::time_point>> order_;  // stored ids, oldest first
  std::size_t capacity_;
  std::chrono::milliseconds max_age_;
};

}  // namespace dm::ingest
