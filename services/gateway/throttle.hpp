#pragma once
// Login throttling: after `max_failures` failed logins for one account, or from one client
// address, within `window`, further attempts for that account (or from that address) are
// refused with 429 until the oldest failure leaves the window. Other accounts and other
// addresses are unaffected. In memory, per gateway replica: an attacker spreading attempts
// over replicas gets at most replicas × max_failures tries per window.
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

}  // namespace dm::gateway
