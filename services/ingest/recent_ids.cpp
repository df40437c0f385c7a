#include "recent_ids.hpp"

namespace dm::ingest {

RecentIds::Seen RecentIds::begin(const std::string& id, std::function<void(bool)> waiter) {
  auto now = Clock::now();
  std::lock_guard lock(mu_);
  evict(now);
  auto [it, inserted] = entries_.try_emplace(id);
  if (inserted) {
    it->second.at = now;
    return Seen::fresh;
  }
  if (it->second.stored) return Seen::stored;
  it->second.waiters.push_back(std::move(waiter));
  return Seen::pending;
}

void RecentIds::finish(const std::string& id, bool stored) {
  std::vector<std::function<void(bool)>> waiters;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    waiters.swap(it->second.waiters);
    if (stored) {
      it->second.stored = true;
      it->second.at = Clock::now();
      order_.emplace_back(id, it->second.at);
    } else {
      entries_.erase(it);  // not stored: a later repeat must try again
    }
  }
  for (auto& w : waiters) w(stored);
}

void RecentIds::evict(Clock::time_point now) {
  while (!order_.empty() && (order_.size() > capacity_ || now - order_.front().second > max_age_)) {
    auto it = entries_.find(order_.front().first);
    if (it != entries_.end() && it->second.stored && it->second.at == order_.front().second) entries_.erase(it);
    order_.pop_front();
  }
}

std::size_t RecentIds::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace dm::ingest
