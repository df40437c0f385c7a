#include "batcher.hpp"

#include "dm/contract/subjects.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/core/uuid.hpp"

namespace dm::ingest {

EventBatcher::EventBatcher(bus::Connection& nats, BatchOptions options) : nats_(nats), options_(options) {
  if (options_.linger.count() > 0)
    thread_ = std::thread([this] {
      name_this_thread("batcher");
      run();
    });
}

EventBatcher::~EventBatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (!thread_.joinable()) return;
  // The last answer may drop the last owner on this very thread (a publish failing at once).
  if (thread_.get_id() == std::this_thread::get_id())
    thread_.detach();
  else
    thread_.join();
}

void EventBatcher::add(std::string_view event_type, std::string_view subject, std::string_view event_json, Done done) {
  std::unique_lock lock(mu_);
  auto it = pending_.find(event_type);
  if (it == pending_.end()) {
    it = pending_.emplace(std::string(event_type), Pending{}).first;
    it->second.due = std::chrono::steady_clock::now() + options_.linger;
  }
  auto& batch = it->second;
  batch.writer.add(subject, event_json);
  batch.done.push_back(std::move(done));
  // Without a linger, or once full, the batch goes now, from this thread; otherwise the
  // batcher thread sends it when it is due (it only waits for the first of a batch).
  if (options_.linger.count() > 0 && batch.writer.count() < options_.max_events &&
      batch.writer.size() < options_.max_bytes) {
    if (batch.writer.count() == 1) wake_.notify_one();
    return;
  }
  Pending full = std::move(batch);
  std::string type = it->first;
  pending_.erase(it);
  lock.unlock();
  publish(type, std::move(full));
}

void EventBatcher::run() {
  std::unique_lock lock(mu_);
  while (true) {
    if (pending_.empty()) {
      if (stopping_) return;
      wake_.wait(lock);
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    std::vector<std::pair<std::string, Pending>> due;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (stopping_ || it->second.due <= now) {
        due.emplace_back(it->first, std::move(it->second));
        it = pending_.erase(it);
      } else {
        next = std::min(next, it->second.due);
        ++it;
      }
    }
    if (due.empty()) {
      wake_.wait_until(lock, next);
      continue;
    }
    lock.unlock();
    for (auto& [type, batch] : due) publish(type, std::move(batch));
    lock.lock();
  }
}

void EventBatcher::publish(const std::string& event_type, Pending batch) {
  auto body = std::make_shared<std::string>(batch.writer.take());
  auto done = std::make_shared<std::vector<Done>>(std::move(batch.done));
  // The answer captures the connection, not the batcher: it may come after the batcher is gone.
  auto answer = [&nats = nats_, body, done](const Result<bus::PubAck>& ack) {
    if (ack) {
      // Stored: now each event may be seen on its tap (at most once per stored copy).
      for (const auto& e : contract::read_batch(*body)) (void)nats.publish(e.name, e.body);
    }
    for (auto& d : *done) d(ack);
  };
  bus::Headers headers;
  const auto packed = contract::pack_batch(*body, headers);
  nats_.jetstream().publish_async(contract::subject::event_batch(event_type), packed, uuid_v7(), std::move(answer),
                                  headers);
}

}  // namespace dm::ingest
