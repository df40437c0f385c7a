#include "deadlines.hpp"

namespace dm::ingest {

Deadlines::Deadlines(std::chrono::milliseconds timeout) : timeout_(timeout), thread_([this] { run(); }) {}

Deadlines::~Deadlines() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Deadlines::add(std::shared_ptr<OnceReply> reply, std::function<void(OnceReply&)> on_expire) {
  std::lock_guard lock(mu_);
  bool was_empty = queue_.empty();
  queue_.push_back({std::chrono::steady_clock::now() + timeout_, std::move(reply), std::move(on_expire)});
  if (was_empty) cv_.notify_one();
}

void Deadlines::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    // Answered ones leave as soon as they reach the front, expired or not: memory stays
    // proportional to what is really in flight plus one timeout's worth of arrivals.
    if (queue_.front().reply->done()) {
      queue_.pop_front();
      continue;
    }
    if (queue_.front().at > now) {
      cv_.wait_until(lock, queue_.front().at);
      continue;
    }
    Item item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    item.on_expire(*item.reply);
    lock.lock();
  }
}

}  // namespace dm::ingest
