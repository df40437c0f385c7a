#pragma once
// Safety for C callbacks whose last invocation we cannot observe (connection events, the
// JetStream ack handler): the C library gets a numeric id, not a pointer, and each call
// looks the id up. Once the owner removes it, late calls find nothing instead of freed memory.
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "dm/core/log.hpp"

namespace dm::bus {

// Depth of our callbacks running on this thread: code that must not block on its own
// thread (joining it, waiting for its completion) checks this first.
inline thread_local int callback_depth = 0;

class CallbackScope {
 public:
  CallbackScope() { ++callback_depth; }
  ~CallbackScope() { --callback_depth; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
  static bool active() { return callback_depth > 0; }
};

// Runs user code on a library thread: an exception escaping into C would terminate the
// process, so it is logged and dropped instead.
template <typename F, typename... Args>
void invoke_user(std::string_view what, F& f, Args&&... args) {
  try {
    f(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    log::error("bus: callback threw", {{"callback", what}, {"error", e.what()}});
  } catch (...) {
    log::error("bus: callback threw", {{"callback", what}, {"error", "unknown exception"}});
  }
}

template <typename T>
class ClosureRegistry {
 public:
  static void* add(const std::shared_ptr<T>& target) {
    auto& st = state();
    std::lock_guard lock(st.mu);
    const std::uintptr_t id = ++st.next;
    st.targets.emplace(id, target);
    return reinterpret_cast<void*>(id);
  }
  static std::shared_ptr<T> find(void* closure) {
    auto& st = state();
    std::lock_guard lock(st.mu);
    auto it = st.targets.find(reinterpret_cast<std::uintptr_t>(closure));
    return it == st.targets.end() ? nullptr : it->second.lock();
  }
  static void remove(void* closure) {
    auto& st = state();
    std::lock_guard lock(st.mu);
    st.targets.erase(reinterpret_cast<std::uintptr_t>(closure));
  }

 private:
  struct State {
    std::mutex mu;
    std::uintptr_t next = 0;
    std::unordered_map<std::uintptr_t, std::weak_ptr<T>> targets;
  };
  // Never destroyed: library threads may still call in while static destructors run at exit.
  static State& state() {
    static State* st = new State;
    return *st;
  }
};

}  // namespace dm::bus
