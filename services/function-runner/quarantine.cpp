#include "quarantine.hpp"

namespace dm::function_runner {

bool Quarantine::contains(const std::string& key) const {
  if (key.empty()) return false;
  std::lock_guard lock(mutex_);
  auto it = records_.find(key);
  return it != records_.end() && it->second.until > Clock::now();
}

bool Quarantine::strike(const std::string& key) {
  if (key.empty()) return false;
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  // Functions that crashed once long ago are forgotten, so the map stays small.
  if (records_.size() > 1024)
    std::erase_if(records_, [&](const auto& kv) {
      return kv.second.until < now && (kv.second.at.empty() || kv.second.at.back() < now - window_);
    });
  auto& r = records_[key];
  r.at.push_back(now);
  while (!r.at.empty() && r.at.front() < now - window_) r.at.pop_front();
  if (static_cast<int>(r.at.size()) < strikes_) return false;
  r.until = now + duration_;
  r.at.clear();
  return true;
}

}  // namespace dm::function_runner
