#include "dm/core/thread_pool.hpp"

#include <pthread.h>

#include <cstring>
#include <string>

#include "dm/core/log.hpp"

namespace dm {

void name_this_thread(const char* name) {
  const std::string cut(name, strnlen(name, 15));  // the kernel keeps 15 characters and a NUL
  pthread_setname_np(pthread_self(), cut.c_str());
}

ThreadPool::ThreadPool(std::size_t threads, std::size_t max_queue) : max_queue_(max_queue ? max_queue : 1) {
  for (std::size_t i = 0; i < (threads ? threads : 1); ++i)
    threads_.emplace_back([this] {
      name_this_thread("pool");
      run();
    });
}

ThreadPool::~ThreadPool() { stop(); }

bool ThreadPool::submit(std::function<void()> task) {
  std::unique_lock lock(mutex_);
  not_full_.wait(lock, [&] { return stopping_ || queue_.size() < max_queue_; });
  if (stopping_) return false;
  queue_.push_back(std::move(task));
  not_empty_.notify_one();
  return true;
}

void ThreadPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::size_t ThreadPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void ThreadPool::run() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      not_empty_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    not_full_.notify_one();
    try {
      task();
    } catch (const std::exception& e) {
      // A task must not take the worker down with it; the failure is a bug to log.
      log::error("task threw", {{"error", e.what()}});
    }
  }
}

}  // namespace dm
