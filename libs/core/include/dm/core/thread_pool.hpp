#pragma once
// A fixed set of worker threads with a bounded queue. Used where callbacks arrive on a
// single library thread (one NATS subscription) but the work blocks (database calls).
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dm {

// Names the calling thread (at most 15 characters, the rest cut) as top -H, /proc and the
// CPU benchmark (tools/bench/cpu.sh THREADS=1) show it.
void name_this_thread(const char* name);

class ThreadPool {
 public:
  ThreadPool(std::size_t threads, std::size_t max_queue);
  ~ThreadPool();  // finishes queued work, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `task`; blocks while the queue is full (backpressure on the producer).
  // Returns false once the pool is stopping.
  bool submit(std::function<void()> task);
  // Finishes queued work and joins; further submits are refused.
  void stop();
  std::size_t queued() const;

 private:
  void run();
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t max_queue_;
  bool stopping_ = false;
};

}  // namespace dm
