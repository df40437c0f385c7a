#include "pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "dm/core/log.hpp"
#include "worker.hpp"

namespace dm::function_runner {
namespace {
using Clock = std::chrono::steady_clock;
}

struct WorkerPool::Impl {
  struct Slot {
    int index = 0;
    pid_t pid = -1;
    int to_fd = -1;
    int from_fd = -1;
    std::atomic<std::uint32_t>* current = nullptr;  // shared page: 1-based job being run
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<Job> queue;
    std::unordered_set<std::string> known;  // keys whose code this worker was sent
    std::thread thread;
    bool busy = false;  // running a batch (guarded by mutex)
  };

  PoolOptions options;
  std::vector<std::unique_ptr<Slot>> slots;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> crashes{0}, restarts{0}, executed{0};
  mutable std::mutex q_mutex;  // quarantine
  struct Strikes {
    std::deque<Clock::time_point> at;
    Clock::time_point until{};
  };
  std::map<std::string, Strikes> strikes;

  Result<void> spawn(Slot& s) {
    int in_pipe[2], out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) return Error(Errc::internal, "pipe failed");
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
      ::close(in_pipe[0]);
      ::close(in_pipe[1]);
      return Error(Errc::internal, "pipe failed");
    }
    int shm = ::memfd_create("dm-runner-slot", MFD_CLOEXEC);
    if (shm < 0 || ::ftruncate(shm, 4096) != 0) return Error(Errc::internal, "memfd failed");
    void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
    if (page == MAP_FAILED) return Error(Errc::internal, "mmap failed");
    std::string heap = std::to_string(options.heap_mb);
    const char* argv[] = {options.binary.c_str(), kWorkerFlag, heap.c_str(), nullptr};
    rlimit data{static_cast<rlim_t>(options.memory_mb) << 20, static_cast<rlim_t>(options.memory_mb) << 20};
    rlimit core{0, 0};
    pid_t pid = ::fork();
    if (pid == 0) {
      // Child: async-signal-safe calls only until exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(in_pipe[0], 0);
      ::dup2(out_pipe[1], 1);
      ::dup2(shm, 3);
      ::close_range(4, ~0U, 0);
      if (options.memory_mb) ::setrlimit(RLIMIT_DATA, &data);
      ::setrlimit(RLIMIT_CORE, &core);
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(shm);
    if (pid < 0) {
      ::close(in_pipe[1]);
      ::close(out_pipe[0]);
      ::munmap(page, 4096);
      return Error(Errc::internal, "fork failed");
    }
    if (s.current) ::munmap(s.current, 4096);
    s.pid = pid;
    s.to_fd = in_pipe[1];
    s.from_fd = out_pipe[0];
    s.current = static_cast<std::atomic<std::uint32_t>*>(page);
    s.known.clear();
    return ok();
  }

  void reap(Slot& s) {
    if (s.pid > 0) {
      ::kill(s.pid, SIGKILL);
      int status = 0;
      ::waitpid(s.pid, &status, 0);
    }
    if (s.to_fd >= 0) ::close(s.to_fd);
    if (s.from_fd >= 0) ::close(s.from_fd);
    s.pid = -1;
    s.to_fd = s.from_fd = -1;
  }

  bool is_quarantined(const std::string& fid) {
    if (fid.empty()) return false;
    std::lock_guard lock(q_mutex);
    auto it = strikes.find(fid);
    return it != strikes.end() && it->second.until > Clock::now();
  }

  void strike(const std::string& fid) {
    if (fid.empty()) return;
    std::lock_guard lock(q_mutex);
    auto now = Clock::now();
    auto& st = strikes[fid];
    st.at.push_back(now);
    while (!st.at.empty() && st.at.front() < now - options.quarantine_window) st.at.pop_front();
    if (static_cast<int>(st.at.size()) >= options.quarantine_strikes) {
      st.until = now + options.quarantine_for;
      st.at.clear();
      log::warn("function quarantined after crashing workers",
                {{"function_id", fid}, {"seconds", static_cast<long>(options.quarantine_for.count())}});
    }
  }

  // Waits for the reply frame until `deadline`; a timeout is treated like a crash.
  Result<std::string> await_reply(Slot& s, Clock::time_point deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return Error(Errc::timeout, "worker did not answer in time");
      pollfd p{s.from_fd, POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(left));
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) return protocol::read_frame(s.from_fd, 1u << 30);
    }
  }

  void loop(Slot& s) {
    std::vector<Job> batch;
    std::vector<RunResult> results;
    while (true) {
      {
        std::unique_lock lock(s.mutex);
        s.busy = false;
        s.cv.wait(lock, [&] { return stopping || !s.queue.empty(); });
        // On shutdown what is queued still runs (no new work arrives by then): answering it
        // "shutting down" would record failed runs for functions that did nothing wrong.
        if (stopping && s.queue.empty()) break;
        while (!s.queue.empty() && batch.size() < options.max_batch) {
          batch.push_back(std::move(s.queue.front()));
          s.queue.pop_front();
        }
        s.busy = !batch.empty();
      }
      // Quarantined functions are answered without touching a worker.
      std::vector<Job> runnable;
      for (auto& j : batch) {
        if (is_quarantined(j.function_id)) {
          j.done(RunResult::failure("function quarantined: it crashed its worker repeatedly; try again later"));
        } else {
          runnable.push_back(std::move(j));
        }
      }
      batch.clear();
      if (runnable.empty()) continue;
      std::vector<const protocol::WireJob*> wire;
      std::uint64_t budget_ms = 2000;
      for (auto& j : runnable) {
        if (j.wire.kind == protocol::JobKind::run) {
          if (s.known.insert(j.wire.key).second && j.code)
            j.wire.code = *j.code;
          else if (j.wire.kind == protocol::JobKind::run)
            j.wire.code.clear();
          budget_ms += j.wire.timeout_ms;
        }
        wire.push_back(&j.wire);
      }
      s.current->store(0);
      auto sent = protocol::write_all(s.to_fd, protocol::encode_jobs(wire));
      Result<std::string> reply = sent.ok() ? await_reply(s, Clock::now() + std::chrono::milliseconds(budget_ms))
                                            : Result<std::string>(sent.take_error());
      if (reply.ok() && protocol::decode_results(*reply, results) && results.size() == runnable.size()) {
        std::vector<Job> again;
        for (std::size_t i = 0; i < runnable.size(); ++i) {
          if (results[i].status == protocol::kMissing) {
            s.known.erase(runnable[i].wire.key);
            again.push_back(std::move(runnable[i]));
            continue;
          }
          executed.fetch_add(1, std::memory_order_relaxed);
          runnable[i].done(std::move(results[i]));
        }
        requeue_front(s, again);
        continue;
      }
      recover(s, runnable, reply.ok() ? "bad reply" : reply.error().message);
    }
  }

  void requeue_front(Slot& s, std::vector<Job>& jobs) {
    if (jobs.empty()) return;
    std::lock_guard lock(s.mutex);
    for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) s.queue.push_front(std::move(*it));
    jobs.clear();
  }

  // The worker died or hung: answer the job it was running, restart it, retry the rest.
  void recover(Slot& s, std::vector<Job>& jobs, const std::string& why) {
    std::uint32_t at = s.current->load();
    crashes.fetch_add(1);
    reap(s);
    std::size_t culprit = at > 0 ? at - 1 : 0;
    log::warn("worker died; restarting",
              {{"worker", s.index}, {"reason", why}, {"function_id", jobs[culprit].function_id}});
    auto r = RunResult::failure("the function crashed its worker (out of memory or hung); the worker was restarted");
    strike(jobs[culprit].function_id);
    jobs[culprit].done(std::move(r));
    std::vector<Job> rest;
    for (std::size_t i = 0; i < jobs.size(); ++i)
      if (i != culprit) rest.push_back(std::move(jobs[i]));
    while (!stopping) {
      if (spawn(s)) break;
      log::error("worker restart failed; retrying", {{"worker", s.index}});
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    restarts.fetch_add(1);
    requeue_front(s, rest);
  }

  Slot& pick(const std::string& key) {
    std::size_t home = std::hash<std::string>{}(key) % slots.size();
    auto idle = [](Slot& s) {
      std::lock_guard lock(s.mutex);
      return !s.busy && s.queue.empty();
    };
    // Same function → same worker (its compiled code is cached there) while that worker is
    // free. When it is running something (maybe a slow function), an idle worker takes the job:
    // one slow function must not hold up others that hash to the same worker.
    Slot* best = slots[home].get();
    if (idle(*best)) return *best;
    for (auto& s : slots) {
      if (idle(*s)) return *s;
    }
    // Every worker is busy: stay home unless it is far behind the others.
    std::size_t best_len;
    {
      std::lock_guard lock(best->mutex);
      best_len = best->queue.size();
    }
    if (best_len < 64) return *best;
    for (auto& s : slots) {
      std::lock_guard lock(s->mutex);
      if (s->queue.size() + 64 < best_len) {
        best = s.get();
        best_len = s->queue.size();
      }
    }
    return *best;
  }
};

WorkerPool::WorkerPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<WorkerPool>> WorkerPool::start(PoolOptions options) {
  // A write to a worker that just died must fail with EPIPE, not kill the service.
  ::signal(SIGPIPE, SIG_IGN);
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (impl->options.workers < 1) impl->options.workers = 1;
  for (int i = 0; i < impl->options.workers; ++i) {
    auto slot = std::make_unique<Impl::Slot>();
    slot->index = i;
    DM_TRY(impl->spawn(*slot));
    impl->slots.push_back(std::move(slot));
  }
  auto* raw = impl.get();
  for (auto& s : raw->slots) s->thread = std::thread([raw, slot = s.get()] { raw->loop(*slot); });
  return std::unique_ptr<WorkerPool>(new WorkerPool(std::move(impl)));
}

WorkerPool::~WorkerPool() {
  impl_->stopping = true;
  for (auto& s : impl_->slots) {
    { std::lock_guard lock(s->mutex); }
    s->cv.notify_all();
  }
  for (auto& s : impl_->slots) {
    if (s->thread.joinable()) s->thread.join();
    impl_->reap(*s);
    for (auto& j : s->queue) j.done(RunResult::failure("function runner is shutting down"));
    if (s->current) ::munmap(s->current, 4096);
  }
}

void WorkerPool::submit(Job job) {
  auto& s = impl_->pick(job.wire.key);
  {
    std::lock_guard lock(s.mutex);
    s.queue.push_back(std::move(job));
  }
  s.cv.notify_one();
}

RunResult WorkerPool::run(Job job) {
  auto promise = std::make_shared<std::promise<RunResult>>();
  auto future = promise->get_future();
  job.done = [promise](RunResult r) { promise->set_value(std::move(r)); };
  submit(std::move(job));
  return future.get();
}

WorkerPool::Stats WorkerPool::stats() const {
  return {impl_->crashes.load(), impl_->restarts.load(), impl_->executed.load()};
}

std::vector<int> WorkerPool::pids() const {
  std::vector<int> out;
  for (auto& s : impl_->slots) out.push_back(s->pid);
  return out;
}

bool WorkerPool::quarantined(const std::string& function_id) const { return impl_->is_quarantined(function_id); }

}  // namespace dm::function_runner
