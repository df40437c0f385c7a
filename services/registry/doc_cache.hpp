#pragma once
// Rendered answers of read routes (one document, or one page of a list with its total),
// kept in memory until anything in the registry changes. Reads outnumber writes by far,
// and a rendered document costs a database round trip plus JSON rendering; a cached one
// costs a map lookup. Any committed write clears the cache of every replica (through
// `dm.registry.invalidate`), so answers are never older than one NATS hop after a write.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace dm::registry {

struct CachedAnswer {
  std::string body;
  std::int64_t total = -1;  // X-Total-Count for lists, -1 for single documents
};

class DocCache {
 public:
  explicit DocCache(std::size_t max_entries = 20000) : max_entries_(max_entries) {}

  // The generation to pass to put() for a read that starts now.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::optional<CachedAnswer> get(const std::string& key) const;
  // Stores only if nothing changed since `generation_at_read` (a write that committed
  // while the read ran would otherwise leave a stale answer behind).
  void put(const std::string& key, CachedAnswer answer, std::uint64_t generation_at_read);
  void invalidate();

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, CachedAnswer> entries_;
  std::atomic<std::uint64_t> generation_{0};
  std::size_t max_entries_;
};

}  // namespace dm::registry
