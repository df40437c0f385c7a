#pragma once
// Login throttling: after `max_failures` failed logins for one account, or from one client
// address, within `window`, further attempts for that account (or from that address) are
// refused with 429 until the oldest failure leaves the window. Other accounts and other
// addresses are unaffected. In memory, per gateway replica: an attacker spreading attempts
// over replicas gets at most replicas × max_failures tries per window.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace dm::gateway {

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  LoginThrottle(int max_failures = 10, std::chrono::seconds window = std::chrono::minutes(5));

  // Seconds until an attempt may be made again, or nullopt if allowed now.
  std::optional<std::int64_t> blocked(const std::string& account, const std::string& address, Clock::time_point now);
  void failed(const std::string& account, const std::string& address, Clock::time_point now);
  // A correct password clears the account's failures (not the address's).
  void succeeded(const std::string& account);

 private:
  using Map = std::unordered_map<std::string, std::deque<Clock::time_point>>;
  std::optional<std::int64_t> check(Map& map, const std::string& key, Clock::time_point now);
  void record(Map& map, const std::string& key, Clock::time_point now);

  int max_failures_;
  std::chrono::seconds window_;
  std::mutex mutex_;
  Map accounts_;
  Map addresses_;
};

// A budget per client address, as a token bucket: `limit` events at once, given back at
// `limit` per `period`, continuously. Once spent, the address is refused (429 with the
// seconds until one event is allowed again) until the bucket refills. Used for failed
// authentications (bad or unknown tokens and API keys, wrong passwords) and for
// registrations. In memory, per replica, bounded whatever addresses clients come from.
//
// any_blocked() and blocked() are on the path of every authenticated request: while no address
// is blocked they read one atomic and take no lock.
class AddressBudget {
 public:
  using Clock = std::chrono::steady_clock;
  // limit 0 disables the budget (nothing is ever blocked).
  AddressBudget(int limit, std::chrono::seconds period);

  std::optional<std::int64_t> blocked(const std::string& address, Clock::time_point now);
  // False while no address is blocked: callers may skip finding the address at all.
  bool any_blocked() const { return blocked_count_.load(std::memory_order_acquire) > 0; }
  // Spends one event of the address's budget.
  void spend(const std::string& address, Clock::time_point now);

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point at;
    bool blocked = false;
  };
  void refill(Bucket& b, Clock::time_point now) const;
  void sweep(Clock::time_point now);

  int limit_;
  double per_second_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::atomic<std::size_t> blocked_count_{0};
};

// What throttles count an address under: IPv6 clients by their /64 (one subscriber usually
// has the whole prefix, so counting single addresses would let one client rotate through
// billions); everything else as it is.
std::string address_key(const std::string& address);

}  // namespace dm::gateway
