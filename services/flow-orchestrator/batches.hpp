#pragma once
// Uplinks waiting to run, cut into batches for the workers (processor.hpp).
//
// One worker at a time collects: it waits for an uplink, lingers up to `linger` for more
// (not when `most` are already waiting), and takes every waiting uplink whose device has no
// batch running, up to `most`, in arrival order. The other workers wait for their turn to
// collect, so at a low rate one batch takes everything that arrived during the linger, and
// under load up to WORKERS batches run at once. Each batch costs a runner request, a
// JetStream round trip and their wake-ups whatever its size: fewer, fuller batches are what
// makes a low rate cheap. (Fixed lanes by DevEUI split even a trickle four ways.)
//
// A device's uplinks never run in two batches at once and keep their order: one whose device
// is running stays queued, with the device's later ones, until that batch is done().
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace dm::flow_orchestrator {

// Msg: movable, with `const std::string& subject() const` naming its device (bus::JsMessage).
template <typename Msg>
class Batches {
 public:
  enum class Pushed { queued, waited, stopping };

  // `capacity`: uplinks waiting before push() blocks; `most`: uplinks per batch.
  Batches(std::size_t capacity, std::size_t most, std::chrono::milliseconds linger)
      : capacity_(std::max<std::size_t>(capacity, 1)), most_(std::max<std::size_t>(most, 1)), linger_(linger) {}

  // Queues `m`, first waiting for room (then `waited`). When stopping, `m` is left as it was.
  Pushed push(Msg& m) {
    std::unique_lock lock(mu_);
    Pushed how = Pushed::queued;
    if (!stopping_ && queue_.size() >= capacity_) {
      how = Pushed::waited;
      has_room_.wait(lock, [&] { return stopping_ || queue_.size() < capacity_; });
    }
    if (stopping_) return Pushed::stopping;
    queue_.push_back(std::move(m));
    // Only what changes the collector's mind wakes it: the first uplink, a full batch, or one
    // that may run while everything else waits for running devices.
    if (queue_.size() == 1 || queue_.size() == most_ || blocked_) {
      blocked_ = false;
      has_work_.notify_one();
    }
    return how;
  }

  // The next batch; empty once stopping. The batch's devices count as running until done().
  std::vector<Msg> take() {
    std::unique_lock lock(mu_);
    turn_.wait(lock, [&] { return stopping_ || !collecting_; });
    collecting_ = true;
    std::vector<Msg> batch;
    while (!stopping_) {
      has_work_.wait(lock, [&] { return stopping_ || (!queue_.empty() && !blocked_); });
      if (stopping_) break;
      if (linger_.count() > 0 && queue_.size() < most_)
        has_work_.wait_for(lock, linger_, [&] { return stopping_ || queue_.size() >= most_; });
      if (stopping_) break;
      batch = take_runnable();
      if (!batch.empty()) break;
      blocked_ = true;
    }
    collecting_ = false;
    turn_.notify_one();
    has_room_.notify_all();
    if (stopping_) {
      // Taken but not run: back to the queue's front, to be handed back with the rest.
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
      return {};
    }
    return batch;
  }

  // A batch taken with these subjects (one per device) is handed over: they may run again.
  void done(const std::unordered_set<std::string>& subjects) {
    std::lock_guard lock(mu_);
    for (const auto& s : subjects) running_.erase(s);
    if (blocked_) {
      blocked_ = false;
      has_work_.notify_one();
    }
  }

  // Wakes everyone: push() and take() return at once from now on.
  void stop() {
    std::lock_guard lock(mu_);
    stopping_ = true;
    has_work_.notify_all();
    turn_.notify_all();
    has_room_.notify_all();
  }

  // What is still queued (after stop: to hand back).
  std::deque<Msg> drain() {
    std::lock_guard lock(mu_);
    std::deque<Msg> out;
    out.swap(queue_);
    return out;
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

 private:
  // With mu_ held: the queued uplinks of devices not running, up to most_, in order; their
  // devices become running. The rest stays queued in order.
  std::vector<Msg> take_runnable() {
    std::vector<Msg> batch;
    std::deque<Msg> kept;
    std::unordered_set<std::string> taken;
    for (auto& m : queue_) {
      const std::string& device = m.subject();
      if (batch.size() < most_ && !running_.count(device)) {
        taken.insert(device);
        batch.push_back(std::move(m));
      } else {
        kept.push_back(std::move(m));
      }
    }
    queue_.swap(kept);
    running_.insert(taken.begin(), taken.end());
    return batch;
  }

  const std::size_t capacity_;
  const std::size_t most_;
  const std::chrono::milliseconds linger_;
  mutable std::mutex mu_;
  std::condition_variable has_work_;  // the collecting worker waits for uplinks
  std::condition_variable turn_;      // the other workers wait for their turn to collect
  std::condition_variable has_room_;  // the fetcher waits for room
  std::deque<Msg> queue_;
  std::unordered_set<std::string> running_;  // subjects (devices) with a batch running
  bool collecting_ = false;
  bool blocked_ = false;  // all that is queued waits for running devices: wait for done() or a push
  bool stopping_ = false;
};

}  // namespace dm::flow_orchestrator
