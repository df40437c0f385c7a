#include "throttle.hpp"

#include <algorithm>

namespace dm::gateway {
namespace {
// Above this many tracked keys, stale entries are swept so memory stays bounded.
constexpr std::size_t kSweepAbove = 100000;
}  // namespace

LoginThrottle::LoginThrottle(int max_failures, std::chrono::seconds window)
    : max_failures_(max_failures), window_(window) {}

std::optional<std::int64_t> LoginThrottle::check(Map& map, const std::string& key, Clock::time_point now) {
  auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  auto& times = it->second;
  while (!times.empty() && times.front() + window_ <= now) times.pop_front();
  if (times.empty()) {
    map.erase(it);
    return std::nullopt;
  }
  if (static_cast<int>(times.size()) < max_failures_) return std::nullopt;
  auto wait = std::chrono::duration_cast<std::chrono::seconds>(times.front() + window_ - now).count();
  return std::max<std::int64_t>(1, wait + 1);
}

void LoginThrottle::record(Map& map, const std::string& key, Clock::time_point now) {
  if (map.size() > kSweepAbove) {
    for (auto it = map.begin(); it != map.end();) {
      it = (it->second.empty() || it->second.back() + window_ <= now) ? map.erase(it) : std::next(it);
    }
  }
  auto& times = map[key];
  times.push_back(now);
  // Only the newest max_failures matter for the decision.
  while (static_cast<int>(times.size()) > max_failures_) times.pop_front();
}

std::optional<std::int64_t> LoginThrottle::blocked(const std::string& account, const std::string& address,
                                                   Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto a = check(accounts_, account, now);
  auto b = check(addresses_, address, now);
  if (a && b) return std::max(*a, *b);
  return a ? a : b;
}

void LoginThrottle::failed(const std::string& account, const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  record(accounts_, account, now);
  record(addresses_, address, now);
}

void LoginThrottle::succeeded(const std::string& account) {
  std::lock_guard lock(mutex_);
  accounts_.erase(account);
}

}  // namespace dm::gateway
