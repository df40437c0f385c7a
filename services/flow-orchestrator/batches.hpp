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
//
// Under load (a full batch's worth queued) a batch takes only the devices of one group (FNV-1a
// of the subject modulo `groups`, the lane count) that no other loaded batch holds: otherwise
// the first batch would hold nearly every device of a small fleet and the next lanes would find
// nothing they may run.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace dm::flow_orchestrator {

// Msg: movable, with `const std::string& name() const` naming its device (service::MessagePart).
// The group of a subject under load: FNV-1a, the same in every build.
inline std::size_t group_of(std::string_view subject, std::size_t groups) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : subject) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return groups == 0 ? 0 : static_cast<std::size_t>(h % groups);
}

template <typename Msg>
class Batches {
 public:
  enum class Pushed { queued, waited, stopping };
  static constexpr std::size_t kNoGroup = static_cast<std::size_t>(-1);

  // What a batch holds until done(): its devices, and under load its group.
  struct Claim {
    std::unordered_set<std::string> devices;
    std::size_t group = kNoGroup;
  };
  struct Batch {
    std::vector<Msg> messages;
    Claim claim;
  };

  // `capacity`: uplinks waiting before push() blocks; `most`: uplinks per batch; `groups`: how
  // many batches may share a load (the lanes).
  Batches(std::size_t capacity, std::size_t most, std::chrono::milliseconds linger, std::size_t groups = 1)
      : capacity_(std::max<std::size_t>(capacity, 1)),
        most_(std::max<std::size_t>(most, 1)),
        linger_(linger),
        groups_(std::max<std::size_t>(groups, 1)) {}

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

  // The next batch; empty once stopping. What it claims is held until done().
  Batch take() {
    std::unique_lock lock(mu_);
    turn_.wait(lock, [&] { return stopping_ || !collecting_; });
    collecting_ = true;
    Batch batch;
    while (!stopping_) {
      has_work_.wait(lock, [&] { return stopping_ || (!queue_.empty() && !blocked_); });
      if (stopping_) break;
      if (linger_.count() > 0 && queue_.size() < most_)
        has_work_.wait_for(lock, linger_, [&] { return stopping_ || queue_.size() >= most_; });
      if (stopping_) break;
      batch = take_runnable();
      if (!batch.messages.empty()) break;
      blocked_ = true;
    }
    collecting_ = false;
    turn_.notify_one();
    has_room_.notify_all();
    if (stopping_) {
      // Taken but not run: back to the queue's front, to be handed back with the rest.
      for (auto it = batch.messages.rbegin(); it != batch.messages.rend(); ++it) queue_.push_front(std::move(*it));
      return {};
    }
    return batch;
  }

  // A batch is handed over: what it claimed may run again.
  void done(const Claim& claim) {
    std::lock_guard lock(mu_);
    for (const auto& s : claim.devices) running_.erase(s);
    if (claim.group != kNoGroup) loaded_groups_.erase(claim.group);
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
  // With mu_ held: the queued uplinks of devices not running (under load: of one free group),
  // up to most_, in order; they become running. The rest stays queued in order.
  Batch take_runnable() {
    Batch batch;
    const bool loaded = groups_ > 1 && queue_.size() >= most_;
    std::deque<Msg> kept;
    for (auto& m : queue_) {
      const std::string& device = m.name();
      bool take = batch.messages.size() < most_ && !running_.count(device);
      if (take && loaded) {
        const std::size_t g = group_of(device, groups_);
        if (batch.claim.group == kNoGroup && !loaded_groups_.count(g)) batch.claim.group = g;
        take = g == batch.claim.group;
      }
      if (take) {
        batch.claim.devices.insert(device);
        batch.messages.push_back(std::move(m));
      } else {
        kept.push_back(std::move(m));
      }
    }
    queue_.swap(kept);
    running_.insert(batch.claim.devices.begin(), batch.claim.devices.end());
    if (batch.claim.group != kNoGroup) loaded_groups_.insert(batch.claim.group);
    return batch;
  }

  const std::size_t capacity_;
  const std::size_t most_;
  const std::chrono::milliseconds linger_;
  const std::size_t groups_;
  mutable std::mutex mu_;
  std::condition_variable has_work_;  // the collecting worker waits for uplinks
  std::condition_variable turn_;      // the other workers wait for their turn to collect
  std::condition_variable has_room_;  // the fetcher waits for room
  std::deque<Msg> queue_;
  std::unordered_set<std::string> running_;        // subjects (devices) with a batch running
  std::unordered_set<std::size_t> loaded_groups_;  // groups held by batches taken under load
  bool collecting_ = false;
  bool blocked_ = false;  // all that is queued waits for running devices: wait for done() or a push
  bool stopping_ = false;
};

}  // namespace dm::flow_orchestrator
