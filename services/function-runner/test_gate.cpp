#include "test_gate.hpp"

namespace dm::function_runner {

bool TestGate::admit(const std::string& caller, Start start) {
  {
    std::lock_guard lock(mutex_);
    auto& b = buckets_[caller];
    if (b.running >= concurrency_) {
      if (b.waiting.size() >= queue_) return false;
      b.waiting.push_back(std::move(start));
      return true;
    }
    ++b.running;
  }
  start(finisher(caller));
  return true;
}

TestGate::Finished TestGate::finisher(const std::string& caller) {
  return [this, caller] { finish(caller); };
}

// One of the caller's runs is answered: its place goes to the caller's next waiting run.
void TestGate::finish(const std::string& caller) {
  Start next;
  {
    std::lock_guard lock(mutex_);
    auto it = buckets_.find(caller);
    if (it == buckets_.end()) return;
    auto& b = it->second;
    if (b.waiting.empty()) {
      if (--b.running == 0) buckets_.erase(it);
      return;
    }
    next = std::move(b.waiting.front());
    b.waiting.pop_front();
  }
  next(finisher(caller));
}

}  // namespace dm::function_runner
