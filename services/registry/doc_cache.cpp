#include "doc_cache.hpp"

namespace dm::registry {

std::optional<CachedAnswer> DocCache::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void DocCache::put(const std::string& key, CachedAnswer answer, std::uint64_t generation_at_read) {
  std::lock_guard lock(mutex_);
  if (generation_.load(std::memory_order_acquire) != generation_at_read) return;
  // A crude bound: a full cache starts over rather than tracking recency on every hit.
  if (entries_.size() >= max_entries_) entries_.clear();
  entries_[key] = std::move(answer);
}

void DocCache::invalidate() {
  std::lock_guard lock(mutex_);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  entries_.clear();
}

}  // namespace dm::registry
