#include "pool.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "caps.hpp"
#include "dm/core/log.hpp"
#include "dm/core/thread_pool.hpp"
#include "quarantine.hpp"
#include "worker_process.hpp"

namespace dm::function_runner {
namespace {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxReplyFrame = std::size_t{1} << 30;
constexpr milliseconds kFirstStartBackoff{200}, kMaxStartBackoff{5000};
// A test run waits for a worker with nothing else queued, but not longer than this: then the
// next worker to finish a frame takes it (if no other test run is in a worker), so a backlog of
// flow work cannot starve test runs either.
constexpr milliseconds kTestPatience{2000};

void answer(std::vector<Job>& jobs, const RunResult& r) {
  for (auto& j : jobs) j.done(r);
  jobs.clear();
}
}  // namespace

struct WorkerPool::Impl {
  struct Slot {
    int index = 0;
    std::unique_ptr<WorkerProcess> worker;  // null while none could be started (slot thread only)
    std::atomic<int> pid{-1};
    std::atomic<bool> up{false};
    Clock::time_point next_start{};  // after a failed start, not before this
    milliseconds start_backoff{0};
    std::string start_error;
    std::unordered_set<std::string> known;  // keys whose code this worker was sent (slot thread only)
    std::mutex mutex;                       // guards what follows
    std::condition_variable cv;
    std::deque<Job> queue;
    std::optional<Job> probation;  // a suspect: runs next, alone, on a fresh worker
    bool busy = false;             // running a frame
    std::thread thread;
  };
  struct Frame {
    std::vector<Job> jobs;
    bool probation = false;
  };

  PoolOptions options;
  WorkerSpec spec;
  ResultCaps caps;
  Quarantine quarantine;
  std::vector<std::unique_ptr<Slot>> slots;
  std::atomic<bool> stopping{false};
  Clock::time_point drain_until{};  // written before `stopping` is set
  std::atomic<std::uint64_t> crashes{0}, restarts{0}, executed{0}, suspects{0}, proven{0}, reruns{0}, unavailable{0};

  // The test lane: test runs wait here until a worker takes one (see take_frame); a test run
  // counts as running from then until it is answered (its `done` says so).
  std::mutex lane_mutex;
  struct Waiting {
    Job job;
    Clock::time_point since;
  };
  std::deque<Waiting> lane;
  std::size_t tests_running = 0;
  std::atomic<bool> lane_ready{false};  // a test run waits

  explicit Impl(PoolOptions o)
      : options(std::move(o)),
        quarantine(options.quarantine_strikes, options.quarantine_window, options.quarantine_for) {
    spec.binary = options.binary;
    spec.heap_mb = options.heap_mb;
    spec.memory_mb = options.memory_mb;
    spec.max_output_bytes = options.max_output_bytes;
    caps.output_bytes = options.max_output_bytes;
  }

  void wake_all() {
    for (auto& s : slots) {
      { std::lock_guard lock(s->mutex); }
      s->cv.notify_one();
    }
  }

  void update_lane() { lane_ready = !lane.empty(); }

  void submit_test(Job job) {
    job.done = [this, done = std::move(job.done)](RunResult r) {
      release_lane();
      done(std::move(r));
    };
    {
      std::lock_guard lock(lane_mutex);
      lane.push_back({std::move(job), Clock::now()});
      update_lane();
    }
    wake_all();
  }

  // Under the slot's lock (lock order: slot, then lane). A slot with nothing queued takes a
  // test run at once; a slot with work of its own only when the run has waited kTestPatience
  // and no other test run is in a worker.
  bool claim_test(Frame& f, bool slot_has_work) {
    std::lock_guard lock(lane_mutex);
    if (lane.empty()) return false;
    if (slot_has_work && (tests_running > 0 || Clock::now() - lane.front().since < kTestPatience)) return false;
    f.jobs.push_back(std::move(lane.front().job));
    lane.pop_front();
    ++tests_running;
    update_lane();
    return true;
  }

  void release_lane() {
    std::lock_guard lock(lane_mutex);
    --tests_running;
  }

  void give_up(std::vector<Job>& jobs, const std::string& why) {
    unavailable += jobs.size();
    answer(jobs, RunResult::unavailable(why));
  }

  // Under the slot's lock: the next frame (a probation, a test run if the slot has nothing else
  // or the run has waited long enough, or a batch of the queue); empty when there is nothing.
  Frame take_frame(Slot& s) {
    Frame f;
    if (s.probation) {
      f.jobs.push_back(std::move(*s.probation));
      s.probation.reset();
      f.probation = true;
      return f;
    }
    if (!stopping && s.worker && claim_test(f, !s.queue.empty())) return f;
    while (!s.queue.empty() && f.jobs.size() < options.max_batch) {
      f.jobs.push_back(std::move(s.queue.front()));
      s.queue.pop_front();
    }
    return f;
  }

  // The next frame for this slot; an empty frame when it is time to try starting its worker
  // again; nullopt when the pool stops.
  std::optional<Frame> next_frame(Slot& s) {
    std::vector<Job> abandoned;
    {
      std::unique_lock lock(s.mutex);
      s.busy = false;
      // A slot without a worker takes no test run (another slot can) and waits for its own
      // work or the end of its start backoff.
      auto ready = [&] { return stopping || s.probation || !s.queue.empty() || (s.worker && lane_ready); };
      for (;;) {
        if (s.worker)
          s.cv.wait(lock, ready);
        else if (!s.cv.wait_until(lock, s.next_start, ready))
          return Frame{};
        if (stopping && Clock::now() >= drain_until) break;
        Frame f = take_frame(s);
        if (!f.jobs.empty()) {
          s.busy = true;
          return f;
        }
        if (stopping) return std::nullopt;  // its own work is done; test runs are not started any more
        if (!s.worker) return Frame{};
      }
      if (s.probation) abandoned.push_back(std::move(*s.probation));
      s.probation.reset();
      for (auto& j : s.queue) abandoned.push_back(std::move(j));
      s.queue.clear();
    }
    give_up(abandoned, "the function runner is shutting down; try again");
    return std::nullopt;
  }

  void loop(Slot& s) {
    while (auto frame = next_frame(s)) {
      if (!frame->jobs.empty())
        run_frame(s, *frame);
      else if (!s.worker && !stopping && restart(s))
        restarts.fetch_add(1);  // a failed start is tried again after its backoff
    }
  }

  // Starts the slot's worker unless a failed start is too recent. On failure the slot's work is
  // answered `unavailable` (its callers retry, maybe on another replica) until a start works.
  Result<void> restart(Slot& s) {
    const auto now = Clock::now();
    if (now < s.next_start) return Error(Errc::unavailable, s.start_error);
    auto w = WorkerProcess::start(spec);
    if (!w) {
      s.start_backoff = std::clamp(s.start_backoff * 2, kFirstStartBackoff, kMaxStartBackoff);
      s.next_start = now + s.start_backoff;
      s.start_error = "no worker process could be started: " + w.error().message;
      log::error("worker start failed", {{"worker", s.index}, {"error", w.error().message}});
      return Error(Errc::unavailable, s.start_error);
    }
    s.worker = std::move(*w);
    s.pid = s.worker->pid();
    s.up = true;
    s.start_backoff = milliseconds(0);
    return ok();
  }

  void drop_worker(Slot& s) {
    s.worker.reset();
    s.known.clear();
    s.up = false;
    s.pid = -1;
  }

  void run_frame(Slot& s, Frame& f) {
    answer_quarantined(f.jobs);
    if (f.jobs.empty()) return;
    if (!s.worker) {
      if (auto started = restart(s); !started) {
        give_up(f.jobs, started.error().message);
        return;
      }
      restarts.fetch_add(1);
    }
    std::uint64_t budget_ms = 2000;
    auto frame = encode(s, f.jobs, budget_ms);
    auto sent = s.worker->send(frame);
    Result<std::string> reply = sent ? s.worker->receive(Clock::now() + milliseconds(budget_ms), kMaxReplyFrame)
                                     : Result<std::string>(sent.take_error());
    std::vector<RunResult> results;
    if (reply && protocol::decode_results(*reply, results) && results.size() == f.jobs.size()) {
      deliver(s, f, results);
      return;
    }
    const bool hung = !reply && reply.error().code == Errc::timeout;
    lost(s, f, hung, reply ? "bad reply" : reply.error().message);
  }

  void answer_quarantined(std::vector<Job>& jobs) {
    std::erase_if(jobs, [&](Job& j) {
      if (!quarantine.contains(j.function_id)) return false;
      j.done(RunResult::failure("function quarantined: it crashed its worker repeatedly; try again later"));
      return true;
    });
  }

  // The frame for the worker; code is sent only for keys this worker has not seen.
  std::string encode(Slot& s, std::vector<Job>& jobs, std::uint64_t& budget_ms) {
    std::vector<const protocol::WireJob*> wire;
    wire.reserve(jobs.size());
    for (auto& j : jobs) {
      if (j.wire.kind == protocol::JobKind::run) {
        if (s.known.insert(j.wire.key).second && j.code)
          j.wire.code = *j.code;
        else
          j.wire.code.clear();
        budget_ms += j.wire.timeout_ms;
      }
      wire.push_back(&j.wire);
    }
    return protocol::encode_jobs(wire);
  }

  void deliver(Slot& s, Frame& f, std::vector<RunResult>& results) {
    std::vector<Job> again;
    for (std::size_t i = 0; i < f.jobs.size(); ++i) {
      if (results[i].status == protocol::kMissing) {  // the worker had dropped its code: resend
        s.known.erase(f.jobs[i].wire.key);
        again.push_back(std::move(f.jobs[i]));
        continue;
      }
      if (f.probation)
        log::info("suspect ran fine on a fresh worker: the crash was not its doing",
                  {{"function_id", f.jobs[i].function_id}});
      cap_result(results[i], caps);  // the worker is not trusted with its own caps
      executed.fetch_add(1, std::memory_order_relaxed);
      f.jobs[i].done(std::move(results[i]));
    }
    put_back(s, again, f.probation);
  }

  // The frame's jobs go back to the front of this slot, in order (a test job keeps the lane).
  void put_back(Slot& s, std::vector<Job>& jobs, bool probation) {
    if (jobs.empty()) return;
    std::lock_guard lock(s.mutex);
    if (probation) {
      s.probation = std::move(jobs.front());
      jobs.clear();
      return;
    }
    for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) s.queue.push_front(std::move(*it));
    jobs.clear();
  }

  void lost(Slot& s, Frame& f, bool hung, const std::string& why);
  void requeue_lost(Slot& s, Frame& f, std::optional<std::size_t> suspect);
  void convict(Job& job, Ending how);
  Slot& pick(const std::string& key);
};

// The worker died or hung with a frame in hand: restart it, run the lost jobs again, and put
// the job it was running (if any, and unless it was killed from outside) on probation.
void WorkerPool::Impl::lost(Slot& s, Frame& f, bool hung, const std::string& why) {
  const std::uint32_t at = s.worker->running();
  const Ending how = s.worker->end(hung);
  const std::string exit_text = s.worker->exit_text();
  drop_worker(s);
  crashes.fetch_add(1);
  std::optional<std::size_t> suspect;
  if (how != Ending::killed && at >= 1 && at <= f.jobs.size()) suspect = at - 1;
  log::warn("worker died; restarting", {{"worker", s.index},
                                        {"how", ending_name(how)},
                                        {"exit", exit_text},
                                        {"reason", why},
                                        {"jobs", static_cast<long>(f.jobs.size())},
                                        {"suspect", suspect ? f.jobs[*suspect].function_id : std::string("none")},
                                        {"probation", f.probation}});
  if (f.probation && suspect)
    convict(f.jobs.front(), how);
  else
    requeue_lost(s, f, suspect);
  // The replacement starts at once (its queue may be empty, and no new work would come to a
  // slot without a worker); a failed start is retried by the slot after a backoff.
  if (restart(s)) restarts.fetch_add(1);
}

// The lost frame's jobs run again: the suspect alone on the fresh worker, the others in order;
// a job lost too often is answered `unavailable`.
void WorkerPool::Impl::requeue_lost(Slot& s, Frame& f, std::optional<std::size_t> suspect) {
  std::vector<Job> again, out_of_attempts;
  std::optional<Job> on_probation;
  for (std::size_t i = 0; i < f.jobs.size(); ++i) {
    Job& j = f.jobs[i];
    if (++j.lost >= options.max_attempts) {
      out_of_attempts.push_back(std::move(j));
    } else if (f.probation || suspect == i) {
      if (!f.probation) suspects.fetch_add(1);
      on_probation = std::move(j);
    } else {
      reruns.fetch_add(1);
      again.push_back(std::move(j));
    }
  }
  give_up(out_of_attempts, "the function's worker was lost " + std::to_string(options.max_attempts) +
                               " times (killed or restarted from outside); try again");
  put_back(s, again, false);
  if (on_probation) {
    std::vector<Job> one;
    one.push_back(std::move(*on_probation));
    put_back(s, one, true);
  }
}

// Repeated proof: the suspect took down a fresh worker, alone. Its function gets a strike.
void WorkerPool::Impl::convict(Job& job, Ending how) {
  proven.fetch_add(1);
  if (quarantine.strike(job.function_id))
    log::warn("function quarantined after crashing workers",
              {{"function_id", job.function_id}, {"seconds", static_cast<long>(options.quarantine_for.count())}});
  job.done(RunResult::failure(how == Ending::hung
                                  ? "the function hung its worker (twice, the second time alone on a fresh worker); "
                                    "the worker was restarted"
                                  : "the function crashed its worker (twice, the second time alone on a fresh worker: "
                                    "out of memory or a fatal error); the worker was restarted"));
}

WorkerPool::Impl::Slot& WorkerPool::Impl::pick(const std::string& key) {
  std::size_t home = std::hash<std::string>{}(key) % slots.size();
  auto idle = [](Slot& s) {
    std::lock_guard lock(s.mutex);
    return s.up && !s.busy && s.queue.empty() && !s.probation;
  };
  // Same function → same worker (its compiled code is cached there) while that worker is
  // free. When it is running something (maybe a slow function), an idle worker takes the job:
  // one slow function must not hold up others that hash to the same worker.
  Slot* best = slots[home].get();
  if (idle(*best)) return *best;
  for (auto& s : slots) {
    if (idle(*s)) return *s;
  }
  // Every worker is busy: stay home unless it is far behind the others (or has no worker).
  std::size_t best_len;
  {
    std::lock_guard lock(best->mutex);
    best_len = best->up ? best->queue.size() : SIZE_MAX / 2;
  }
  if (best_len < 64) return *best;
  for (auto& s : slots) {
    std::lock_guard lock(s->mutex);
    if (s->up && s->queue.size() + 64 < best_len) {
      best = s.get();
      best_len = s->queue.size();
    }
  }
  return *best;
}

WorkerPool::WorkerPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<WorkerPool>> WorkerPool::start(PoolOptions options) {
  // A write to a worker that just died must fail with EPIPE, not kill the service.
  ::signal(SIGPIPE, SIG_IGN);
  if (options.workers < 1) options.workers = 1;
  if (options.max_attempts < 2) options.max_attempts = 2;
  auto impl = std::make_unique<Impl>(std::move(options));
  if (::geteuid() == 0) {  // workers never keep root (sandbox.hpp)
    DM_ASSIGN_OR_RETURN(auto user, resolve_worker_user(impl->options.worker_user));
    impl->spec.user = user;
  }
  for (int i = 0; i < impl->options.workers; ++i) {
    auto slot = std::make_unique<Impl::Slot>();
    slot->index = i;
    DM_TRY(impl->restart(*slot));
    impl->slots.push_back(std::move(slot));
  }
  auto* raw = impl.get();
  for (auto& s : raw->slots)
    s->thread = std::thread([raw, slot = s.get()] {
      name_this_thread("worker-slot");
      raw->loop(*slot);
    });
  return std::unique_ptr<WorkerPool>(new WorkerPool(std::move(impl)));
}

WorkerPool::~WorkerPool() {
  impl_->drain_until = Clock::now() + impl_->options.drain_timeout;
  impl_->stopping = true;
  impl_->wake_all();
  for (auto& s : impl_->slots)
    if (s->thread.joinable()) s->thread.join();
  // Test runs no worker took (the slots stop taking them once stopping).
  std::vector<Job> left;
  {
    std::lock_guard lock(impl_->lane_mutex);
    for (auto& w : impl_->lane) left.push_back(std::move(w.job));
    impl_->lane.clear();
  }
  impl_->give_up(left, "the function runner is shutting down; try again");
  for (auto& s : impl_->slots) impl_->drop_worker(*s);
}

void WorkerPool::submit(Job job) {
  if (job.test) {
    impl_->submit_test(std::move(job));
    return;
  }
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
  const auto& i = *impl_;
  return {i.crashes.load(), i.restarts.load(), i.executed.load(),   i.suspects.load(),
          i.proven.load(),  i.reruns.load(),   i.unavailable.load()};
}

std::vector<int> WorkerPool::pids() const {
  std::vector<int> out;
  for (auto& s : impl_->slots) out.push_back(s->pid.load());
  return out;
}

bool WorkerPool::quarantined(const std::string& function_id) const { return impl_->quarantine.contains(function_id); }

}  // namespace dm::function_runner
