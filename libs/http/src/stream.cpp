#include "dm/http/stream.hpp"

#include <utility>

namespace dm::http {

Stream::Stream(StreamOptions options) : options_(std::move(options)) {}

bool Stream::write(std::string chunk) {
  bool accepted = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    accepted = queued_bytes_ + chunk.size() <= options_.max_queued_bytes;
    if (accepted) {
      // Only the first chunk after a take() needs a wake-up: the server takes them all at once.
      const bool first = queue_.empty();
      queued_bytes_ += chunk.size();
      queue_.push_back(std::move(chunk));
      if (!first) return true;
    } else {
      closed_ = true;
      overflowed_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    }
  }
  wake();
  return accepted;
}

void Stream::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  wake();
}

bool Stream::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

bool Stream::overflowed() const {
  std::lock_guard lock(mu_);
  return overflowed_;
}

void Stream::on_end(std::function<void()> callback) {
  std::lock_guard lock(mu_);
  on_end_ = std::move(callback);
}

Stream::Taken Stream::take() {
  std::lock_guard lock(mu_);
  Taken out;
  out.chunks.swap(queue_);
  queued_bytes_ = 0;
  out.closed = closed_;
  out.overflowed = overflowed_;
  return out;
}

void Stream::set_waker(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  waker_ = std::move(wake);
}

void Stream::ended() {
  std::function<void()> callback;
  {
    std::lock_guard lock(mu_);
    if (ended_) return;
    ended_ = true;
    closed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    waker_ = nullptr;
    callback = std::move(on_end_);
  }
  if (callback) callback();
}

void Stream::wake() {
  std::function<void()> waker;
  {
    std::lock_guard lock(mu_);
    waker = waker_;
  }
  if (waker) waker();
}

}  // namespace dm::http
