#include "throttle.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

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

AddressBudget::AddressBudget(int limit, std::chrono::seconds period)
    : limit_(std::max(0, limit)),
      per_second_(static_cast<double>(limit_) / static_cast<double>(std::max<std::int64_t>(1, period.count()))) {}

void AddressBudget::refill(Bucket& b, Clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - b.at).count();
  if (elapsed > 0) b.tokens = std::min<double>(limit_, b.tokens + elapsed * per_second_);
  b.at = std::max(b.at, now);
}

std::optional<std::int64_t> AddressBudget::blocked(const std::string& address, Clock::time_point now) {
  if (blocked_count_.load(std::memory_order_acquire) == 0) return std::nullopt;  // the hot path
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(address);
  if (it == buckets_.end() || !it->second.blocked) return std::nullopt;
  auto& b = it->second;
  refill(b, now);
  if (b.tokens >= 1) {
    b.blocked = false;
    blocked_count_.fetch_sub(1, std::memory_order_release);
    return std::nullopt;
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((1 - b.tokens) / per_second_)));
}

void AddressBudget::spend(const std::string& address, Clock::time_point now) {
  if (limit_ == 0) return;
  std::lock_guard lock(mutex_);
  if (buckets_.size() >= kSweepAbove) sweep(now);
  auto [it, fresh] = buckets_.try_emplace(address, Bucket{static_cast<double>(limit_), now, false});
  auto& b = it->second;
  if (!fresh) refill(b, now);
  b.tokens = std::max(0.0, b.tokens - 1);
  if (b.tokens < 1 && !b.blocked) {
    b.blocked = true;
    blocked_count_.fetch_add(1, std::memory_order_release);
  }
}

// Full buckets say nothing: forgotten first. If the table is still full (clients spread over
// very many addresses), every unblocked bucket goes, and only then the blocked ones.
void AddressBudget::sweep(Clock::time_point now) {
  auto erase_if = [&](auto pred) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      if (pred(it->second)) {
        if (it->second.blocked) blocked_count_.fetch_sub(1, std::memory_order_release);
        it = buckets_.erase(it);
      } else {
        ++it;
      }
    }
  };
  erase_if([&](Bucket& b) {
    refill(b, now);
    return b.tokens >= limit_;
  });
  if (buckets_.size() >= kSweepAbove / 2) erase_if([](const Bucket& b) { return !b.blocked; });
  if (buckets_.size() >= kSweepAbove / 2) erase_if([](const Bucket&) { return true; });
}

std::string address_key(const std::string& address) {
  in6_addr a{};
  if (inet_pton(AF_INET6, address.c_str(), &a) != 1) return address;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, a.s6_addr)) return address;  // an IPv4 client on a dual-stack socket
  char out[32];
  std::snprintf(out, sizeof out, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", a.s6_addr[0], a.s6_addr[1], a.s6_addr[2],
                a.s6_addr[3], a.s6_addr[4], a.s6_addr[5], a.s6_addr[6], a.s6_addr[7]);
  return out;
}

}  // namespace dm::gateway
