#include "dm/core/outage.hpp"

#include "dm/core/log.hpp"

namespace dm {

Outage::Outage(std::string what, std::chrono::milliseconds first, std::chrono::milliseconds cap)
    : what_(std::move(what)), first_(first), cap_(cap) {}

std::chrono::milliseconds Outage::failed(const Error& error) {
  std::lock_guard lock(mu_);
  ++failures_;
  last_error_ = error.message;
  if (!since_) {
    since_ = Clock::now();
    next_ = first_;
    log::warn(what_ + ": failing, will retry", {{"error", error.message}});
  } else {
    next_ = std::min(cap_, next_ * 2);
  }
  return next_;
}

void Outage::recovered() {
  std::lock_guard lock(mu_);
  if (!since_) return;
  auto seconds = std::chrono::duration<double>(Clock::now() - *since_).count();
  log::info(what_ + ": recovered", {{"seconds", seconds}, {"failed_tries", failures_}});
  since_.reset();
  failures_ = 0;
}

Result<void> Outage::health() const {
  std::lock_guard lock(mu_);
  if (!since_) return ok();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *since_).count();
  return Error(Errc::unavailable, what_ + ": " + last_error_ + " (failing for " + std::to_string(seconds) + " s)");
}

bool Outage::failing() const {
  std::lock_guard lock(mu_);
  return since_.has_value();
}

}  // namespace dm
