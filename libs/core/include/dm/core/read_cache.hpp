#pragma once
// A read cache cleared as a whole whenever anything it mirrors changes. Reads outnumber
// writes by far; a cached answer costs a map lookup instead of a round trip.
//
// The generation closes the one race such a cache has: a read that started before a write
// committed must not store its (old) answer after the write cleared the cache. Callers take
// generation() before reading and hand it to put(); put() stores only if no invalidate()
// came in between.
//
// An optional time to live bounds how long an entry can outlive an invalidation that never
// arrived (a lost connection to the bus).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace dm {

template <typename Value>
class ReadCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ReadCache(std::size_t max_entries = 20000, Clock::duration ttl = Clock::duration::zero())
      : max_entries_(max_entries), ttl_(ttl) {}

  // The generation to pass to put() for a read that starts now.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  std::optional<Value> get(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    if (ttl_ != Clock::duration::zero() && Clock::now() - it->second.stored > ttl_) return std::nullopt;
    return it->second.value;
  }

  // Stores only if nothing changed since `generation_at_read`.
  void put(const std::string& key, Value value, std::uint64_t generation_at_read) {
    std::lock_guard lock(mutex_);
    if (generation_.load(std::memory_order_acquire) != generation_at_read) return;
    // A crude bound: a full cache starts over rather than tracking recency on every hit.
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_[key] = Entry{std::move(value), ttl_ == Clock::duration::zero() ? Clock::time_point{} : Clock::now()};
  }

  void invalidate() {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    entries_.clear();
  }

 private:
  struct Entry {
    Value value;
    Clock::time_point stored;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::atomic<std::uint64_t> generation_{0};
  std::size_t max_entries_;
  Clock::duration ttl_;
};

}  // namespace dm
