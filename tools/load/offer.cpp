#include "offer.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "dm/http/async_client.hpp"

namespace dm::tools {

namespace {

using Clock = std::chrono::steady_clock;

// At high rates the pacer wakes at most once a millisecond and sends everything due by then:
// a wake-up per request would cost the generator more than the requests. The latency of a
// request sent late still counts from its scheduled time.
constexpr auto kTick = std::chrono::milliseconds(1);

Clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// A paced run starts a moment later, so the first requests are not late already.
std::chrono::milliseconds lead(const OfferOptions& options) {
  return std::chrono::milliseconds(options.rate > 0 ? 20 : 0);
}

class Offer {
 public:
  Offer(const OfferOptions& options, const BodyFor& body)
      : options_(options),
        body_(body),
        start_(Clock::now() + lead(options)),
        start_sys_(std::chrono::system_clock::now() + lead(options)),
        end_(start_ + to_duration(options.duration.count())),
        slots_(std::max(1, options.in_flight)),
        client_(static_cast<std::size_t>(slots_)) {}

  OfferResult run() {
    if (options_.rate > 0)
      pace();
    else
      for (int i = 0; i < slots_; ++i) {
        std::unique_lock lock(mu_);
        if (!start_next(lock, Clock::now())) break;
      }
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return in_flight_ == 0; });
    result_.seconds = std::chrono::duration<double>(last_answer_ - start_).count();
    for (auto [status, n] : result_.statuses)
      if (status >= 200 && status < 300) result_.ok += n;
    return std::move(result_);
  }

 private:
  // Paced: request n is due at start + n / rate; at most in_flight are under way, so a slow
  // server holds back the next ones (and their latency grows from their scheduled time).
  void pace() {
    const double interval = 1.0 / options_.rate;
    for (std::uint64_t n = 0;; ++n) {
      const auto due = start_ + to_duration(interval * static_cast<double>(n));
      if (past_the_end(n, due)) return;
      if (auto now = Clock::now(); due > now) std::this_thread::sleep_until(std::max(due, now + kTick));
      std::unique_lock lock(mu_);
      idle_.wait(lock, [&] { return in_flight_ < slots_; });
      ++in_flight_;
      lock.unlock();
      send(n, due);
    }
  }

  // Request n, to go at `at`, is not sent: the duration or the request count is used up.
  bool past_the_end(std::uint64_t n, Clock::time_point at) const {
    return at >= end_ || (options_.max_requests && n >= options_.max_requests);
  }

  // Flat out: the next request, if any is left, goes as soon as a slot frees (from the I/O
  // thread that freed it). Takes the slot under `lock` and releases the lock.
  bool start_next(std::unique_lock<std::mutex>& lock, Clock::time_point now) {
    const std::uint64_t n = next_;
    if (past_the_end(n, now)) return false;
    ++next_;
    ++in_flight_;
    lock.unlock();
    send(n, now);
    return true;
  }

  void send(std::uint64_t n, Clock::time_point scheduled) {
    const auto scheduled_sys =
        start_sys_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(scheduled - start_);
    client_.request("load", "", {}, "POST", options_.url, body_(n, scheduled_sys), options_.headers,
                    [this, scheduled](const Result<http::ClientResponse>& r) { answered(scheduled, r); });
  }

  void answered(Clock::time_point scheduled, const Result<http::ClientResponse>& r) {
    const auto now = Clock::now();
    std::unique_lock lock(mu_);
    result_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - scheduled).count());
    if (r) {
      result_.statuses[r->status]++;
    } else {
      result_.statuses[0]++;
      result_.last_error = r.error().message;
    }
    last_answer_ = std::max(last_answer_, now);
    --in_flight_;
    if (options_.rate <= 0 && start_next(lock, now)) return;
    idle_.notify_all();  // under the lock: the caller may return (and destroy it) once woken
  }

  const OfferOptions& options_;
  const BodyFor& body_;
  const Clock::time_point start_;
  const std::chrono::system_clock::time_point start_sys_;
  const Clock::time_point end_;
  const int slots_;  // in_flight, at least 1
  std::mutex mu_;
  std::condition_variable idle_;
  int in_flight_ = 0;
  std::uint64_t next_ = 0;  // flat out: the next request's number
  Clock::time_point last_answer_ = start_;
  OfferResult result_;
  http::AsyncClient client_;  // last: destroyed (its I/O thread stopped) before the state above
};

}  // namespace

OfferResult offer(const OfferOptions& options, const BodyFor& body) { return Offer(options, body).run(); }

}  // namespace dm::tools
