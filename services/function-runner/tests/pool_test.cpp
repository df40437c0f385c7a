// Worker processes under the supervisor. Infrastructure failures are never the function's
// fault: a worker killed from outside, idle or busy, loses nothing and blames nobody; a job
// that was running when its worker crashed is only a suspect until it crashes a fresh worker
// alone; repeated proof quarantines only that function. What cannot run for reasons that are
// not the function's is answered `unavailable`.
#include "pool.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "dm/testing/testing.hpp"

using namespace dm::function_runner;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {
std::string runner_binary() { return dm::testing::binary_dir() + "/services/function-runner/dm-function-runner"; }

PoolOptions options(int workers = 2) {
  PoolOptions o;
  o.binary = runner_binary();
  o.workers = workers;
  o.quarantine_strikes = 2;
  o.quarantine_for = std::chrono::seconds(30);
  return o;
}

Job run_job(const std::string& fid, const std::string& code, const std::string& input = "{}",
            std::uint32_t timeout_ms = 1000) {
  Job j;
  j.wire.kind = protocol::JobKind::run;
  j.wire.key = fid + "@1";
  j.wire.input = input;
  j.wire.params = "{}";
  j.wire.timeout_ms = timeout_ms;
  j.code = std::make_shared<const std::string>(code);
  j.function_id = fid;
  return j;
}

using dm::testing::eventually;

// CPU time (clock ticks) a process has used: a worker running a busy loop is the one whose
// count grows; an idle worker's stays put.
long cpu_ticks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

// Waits until the worker `pid` is visibly running JavaScript (20 ticks ≈ 200 ms of CPU).
bool busy(int pid) {
  const long start = cpu_ticks(pid);
  return eventually([&] { return cpu_ticks(pid) >= start + 20; }, 10s);
}

const char* kEcho = "function f(m){ return {n: m.n}; }";
const char* kPass = "function f(m){ return m; }";
// One allocation far beyond the heap limit: V8 cannot make room and aborts the worker every
// time. (A bomb that grows step by step, like new Array(1e9).fill(1), is usually stopped by the
// near-heap-limit callback as "memory limit exceeded"; whether V8 aborts first depends on timing.)
const char* kBomb =
    "function f(m){ const a = 'x'.repeat(2**29 - 24), b = 'y'.repeat(2**29 - 24); return {n: a.indexOf('z') + "
    "b.indexOf('z')}; }";
// The bomb's time budget: building its strings until V8 aborts took over a second on a loaded
// machine, and with 1 s the watchdog sometimes ended it first ("timeout" instead of the crash
// under test: a flake). 5 s is the most an execution may ask for.
Job bomb_job() { return run_job("bomb", kBomb, "{}", 5000); }
const char* kSlow = "function f(m){ const end = Date.now() + 1500; while (Date.now() < end) {} return {ok: m.n}; }";

struct Answer {
  std::promise<RunResult> promise;
  std::future<RunResult> future = promise.get_future();
  Job with(Job j) {
    j.done = [this](RunResult r) { promise.set_value(std::move(r)); };
    return j;
  }
};

// Sends `signal` to a one-worker pool's worker while it runs kSlow (after `meanwhile` has
// queued more work, if given): the slow run's answer and the pid that got the signal.
struct Signalled {
  RunResult slow;
  int pid;
};
Signalled signal_busy_worker(WorkerPool& p, int signal, const std::function<void()>& meanwhile = {}) {
  CHECK(p.run(run_job("echo", kEcho, R"({"n":0})")).status == "success");
  const int pid = p.pids().at(0);
  REQUIRE(pid > 0);  // kill(-1) would kill every process we may signal
  Answer slow;
  p.submit(slow.with(run_job("slow", kSlow, R"({"n":1})", 3000)));
  REQUIRE(busy(pid));  // the slow function is running now
  if (meanwhile) meanwhile();
  REQUIRE(::kill(pid, signal) == 0);
  return {slow.future.get(), pid};
}
}  // namespace

TEST_CASE("a function that crashes its worker is convicted only on a fresh worker, then quarantined") {
  auto pool = WorkerPool::start(options(1));
  REQUIRE(pool.ok());
  auto& p = **pool;
  CHECK(p.run(run_job("echo", kEcho, R"({"n":1})")).output == R"({"n":1})");

  // The bomb and a neighbour in the same frame: the neighbour still gets its answer.
  Answer bomb, after;
  p.submit(bomb.with(bomb_job()));
  p.submit(after.with(run_job("echo", kEcho, R"({"n":2})")));
  auto b = bomb.future.get();
  CHECK(b.status == "error");
  CHECK(b.error_message.find("crashed its worker") != std::string::npos);
  CHECK(after.future.get().output == R"({"n":2})");
  auto st = p.stats();
  CHECK(st.crashes == 2);              // once in the frame, once alone on a fresh worker
  CHECK(st.suspects == 1);             // suspected the first time...
  CHECK(st.proven == 1);               // ...proven the second
  CHECK_FALSE(p.quarantined("bomb"));  // one strike of the two it takes here

  // Second proof → quarantined; others unaffected.
  CHECK(p.run(bomb_job()).error_message.find("crashed its worker") != std::string::npos);
  CHECK(p.stats().proven == 2);
  CHECK(p.quarantined("bomb"));
  auto q = p.run(bomb_job());
  CHECK(q.error_message.find("quarantined") != std::string::npos);
  CHECK(p.stats().crashes == 4);  // the quarantined run reached no worker
  CHECK_FALSE(p.quarantined("echo"));
  CHECK(p.run(run_job("echo", kEcho, R"({"n":3})")).output == R"({"n":3})");
}

TEST_CASE("kill -9 of an idle worker: nothing is answered with an error, nothing is lost, no strike") {
  auto pool = WorkerPool::start(options(1));
  REQUIRE(pool.ok());
  auto& p = **pool;
  CHECK(p.run(run_job("echo", kEcho, R"({"n":0})")).status == "success");
  const int pid = p.pids().at(0);
  REQUIRE(pid > 0);  // kill(-1) would kill every process we may signal
  REQUIRE(::kill(pid, SIGKILL) == 0);

  std::vector<std::unique_ptr<Answer>> answers;
  for (int i = 1; i <= 20; ++i) {
    answers.push_back(std::make_unique<Answer>());
    p.submit(answers.back()->with(run_job("echo", kEcho, "{\"n\":" + std::to_string(i) + "}")));
  }
  for (int i = 1; i <= 20; ++i) {
    auto r = answers[static_cast<std::size_t>(i - 1)]->future.get();
    INFO(r.error_message);
    CHECK(r.output == "{\"n\":" + std::to_string(i) + "}");
  }
  auto st = p.stats();
  CHECK(st.crashes == 1);
  CHECK(st.suspects == 0);  // it was running nothing: nobody is suspected
  CHECK(st.proven == 0);
  CHECK(st.unavailable == 0);
  CHECK_FALSE(p.quarantined("echo"));
  CHECK(p.pids().at(0) != pid);
}

TEST_CASE("kill -9 of a busy worker running a healthy function: it runs again, no error, no strike") {
  auto pool = WorkerPool::start(options(1));
  REQUIRE(pool.ok());
  auto& p = **pool;
  Answer queued;
  auto [r, pid] = signal_busy_worker(p, SIGKILL, [&] { p.submit(queued.with(run_job("echo", kEcho, R"({"n":2})"))); });
  INFO(r.error_message);
  CHECK(r.status == "success");
  CHECK(r.output == R"({"ok":1})");
  CHECK(queued.future.get().output == R"({"n":2})");
  auto st = p.stats();
  CHECK(st.crashes == 1);
  CHECK(st.suspects == 0);  // killed from outside: says nothing about the function
  CHECK(st.proven == 0);
  CHECK_FALSE(p.quarantined("slow"));
  CHECK(p.pids().at(0) != pid);
}

TEST_CASE("a worker that dies as if it crashed while running a healthy function: suspect, cleared on a fresh worker") {
  auto pool = WorkerPool::start(options(1));
  REQUIRE(pool.ok());
  // SIGABRT is what a V8 abort looks like: the running job is suspected, not convicted.
  auto& p = **pool;
  auto r = signal_busy_worker(p, SIGABRT).slow;
  INFO(r.error_message);
  CHECK(r.status == "success");
  auto st = p.stats();
  CHECK(st.crashes == 1);
  CHECK(st.suspects == 1);
  CHECK(st.proven == 0);
  CHECK_FALSE(p.quarantined("slow"));
}

TEST_CASE("a worker killed by SIGSYS (a system call outside the sandbox's filter) is a crash like a V8 abort") {
  auto pool = WorkerPool::start(options(1));
  REQUIRE(pool.ok());
  // The filter's kill is SIGSYS: the running job is suspected, run alone again, cleared.
  auto& p = **pool;
  auto r = signal_busy_worker(p, SIGSYS).slow;
  INFO(r.error_message);
  CHECK(r.status == "success");
  auto st = p.stats();
  CHECK(st.crashes == 1);
  CHECK(st.suspects == 1);
  CHECK(st.proven == 0);
}

TEST_CASE("5 kills in a few seconds during a stream of pass-through runs lose nothing and quarantine nothing") {
  auto pool = WorkerPool::start(options(2));
  REQUIRE(pool.ok());
  auto& p = **pool;
  constexpr int kRuns = 4000;
  std::atomic<int> answered{0}, right{0};
  std::mutex wrong_mu;
  std::vector<std::string> wrong;
  std::thread producer([&] {
    for (int i = 0; i < kRuns; ++i) {
      std::string input = "{\"n\":" + std::to_string(i) + "}";
      auto j = run_job("pass", kPass, input);
      j.done = [&, input](RunResult r) {
        if (r.status == "success" && r.output == input) {
          ++right;
        } else {
          std::lock_guard lock(wrong_mu);
          wrong.push_back(r.status + ": " + r.error_message);
        }
        ++answered;
      };
      p.submit(std::move(j));
      if (i % 10 == 9) std::this_thread::sleep_for(10ms);  // a stream (≈ 1,000/s), not one burst
    }
  });
  const auto start = Clock::now();
  for (int k = 0; k < 5; ++k) {
    // Between kills, the pool must have made progress (so each kill hits running work).
    const int seen = answered.load();
    REQUIRE(eventually([&] { return answered >= seen + 150; }, 20s));
    const int pid = p.pids().at(static_cast<std::size_t>(k % 2));
    if (pid > 0) ::kill(pid, SIGKILL);
  }
  const auto kills_took = Clock::now() - start;
  producer.join();
  REQUIRE(eventually([&] { return answered == kRuns; }, 60s));
  INFO((wrong.empty() ? std::string() : wrong.front()));
  CHECK(right == kRuns);
  CHECK(kills_took < 15s);
  auto st = p.stats();
  CHECK(st.crashes >= 4);  // a kill may land on a worker already being replaced
  CHECK(st.proven == 0);
  CHECK(st.unavailable == 0);
  CHECK_FALSE(p.quarantined("pass"));
}

TEST_CASE("test runs yield to flow work in the queue, but a backlog does not starve them") {
  auto pool = WorkerPool::start(options(1));
  REQUIRE(pool.ok());
  auto& p = **pool;
  std::mutex mu;
  std::vector<std::string> order;
  std::map<std::string, Clock::time_point> done_at;
  auto job = [&](const std::string& name, const std::string& code, bool test) {
    auto j = run_job(test ? "test:" + name : name, code, "{}", 3000);
    j.test = test;
    j.done = [&, name](RunResult r) {
      std::lock_guard lock(mu);
      order.push_back(r.status == "success" ? name : name + ":" + r.status);
      done_at[name] = Clock::now();
    };
    return j;
  };
  const int pid = p.pids().at(0);
  const char* kSecond = "function f(m){ const end = Date.now() + 1000; while (Date.now() < end) {} return m; }";
  p.submit(job("slow", kSecond, false));
  REQUIRE(busy(pid));
  p.submit(job("test", kPass, true));  // waits: the worker has flow work queued behind `slow`
  for (int i = 1; i <= 3; ++i) p.submit(job("flow" + std::to_string(i), kPass, false));
  REQUIRE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return order.size() == 5;
      },
      10s));
  {
    std::lock_guard lock(mu);
    CHECK(order == std::vector<std::string>{"slow", "flow1", "flow2", "flow3", "test"});
    order.clear();
  }

  // A steady backlog of flow work (50 ms runs, arriving twice as fast as they finish): the
  // test run still gets its turn after waiting a while, while the backlog is still there. The
  // backlog goes on until the test run is answered (or 20 s: starved); a fixed-length backlog
  // raced the patience, since a worker takes the whole queue as one frame.
  const char* k50 = "function f(m){ const end = Date.now() + 50; while (Date.now() < end) {} return m; }";
  std::atomic<bool> patient_answered{false};
  auto patient = job("patient", kPass, true);
  patient.done = [&, done = std::move(patient.done)](RunResult r) {
    done(std::move(r));
    patient_answered = true;
  };
  int submitted = 0;
  Clock::time_point patient_submitted;
  std::thread producer([&] {
    const auto give_up = Clock::now() + 20s;
    while (!patient_answered && Clock::now() < give_up) {
      p.submit(job("backlog" + std::to_string(submitted), k50, false));
      if (++submitted == 10) {
        patient_submitted = Clock::now();
        p.submit(std::move(patient));
      }
      std::this_thread::sleep_for(25ms);  // the pace of the backlog, not a wait for an outcome
    }
  });
  producer.join();
  REQUIRE(patient_answered);
  REQUIRE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return order.size() == static_cast<std::size_t>(submitted) + 1;
      },
      30s));
  std::lock_guard lock(mu);
  // It yielded first, and the backlog it was submitted into was not gone when it ran.
  CHECK(done_at.at("patient") - patient_submitted >= 1s);
  CHECK(done_at.at("patient") < done_at.at("backlog" + std::to_string(submitted - 1)));
  CHECK(std::count(order.begin(), order.end(), "patient") == 1);
}

TEST_CASE("jobs still queued when the pool shuts down are answered unavailable") {
  auto o = options(1);
  o.drain_timeout = 0ms;
  std::vector<std::unique_ptr<Answer>> queued;
  Answer slow;
  {
    auto pool = WorkerPool::start(o);
    REQUIRE(pool.ok());
    auto& p = **pool;
    const int pid = p.pids().at(0);
    p.submit(slow.with(run_job("slow", kSlow, R"({"n":1})", 3000)));
    REQUIRE(busy(pid));
    for (int i = 0; i < 5; ++i) {
      queued.push_back(std::make_unique<Answer>());
      p.submit(queued.back()->with(run_job("echo", kEcho, R"({"n":1})")));
    }
  }  // the frame in hand finishes; the queue is not started
  CHECK(slow.future.get().status == "success");
  for (auto& a : queued) {
    auto r = a->future.get();
    CHECK(r.status == "unavailable");
    CHECK(r.error_message.find("shutting down") != std::string::npos);
  }
}

TEST_CASE("a worker that cannot be restarted: its jobs are unavailable, not errors, until it can") {
  dm::testing::TempDir dir("dm-runner-pool");
  const std::string link = dir.path() + "/dm-function-runner";
  std::filesystem::create_symlink(runner_binary(), link);
  auto o = options(1);
  o.binary = link;
  auto pool = WorkerPool::start(o);
  REQUIRE(pool.ok());
  auto& p = **pool;
  CHECK(p.run(run_job("echo", kEcho, R"({"n":1})")).status == "success");
  std::filesystem::remove(link);  // from now on a new worker cannot be started
  const int pid = p.pids().at(0);
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  auto r = p.run(run_job("echo", kEcho, R"({"n":2})"));
  INFO(r.error_message);
  CHECK(r.status == "unavailable");
  CHECK(r.error_message.find("could be started") != std::string::npos);
  CHECK_FALSE(p.quarantined("echo"));
  CHECK(p.stats().proven == 0);

  std::filesystem::create_symlink(runner_binary(), link);
  CHECK(eventually([&] { return p.run(run_job("echo", kEcho, R"({"n":3})")).status == "success"; }, 20s));
}

TEST_CASE("many functions run concurrently across workers") {
  auto pool = WorkerPool::start(options(2));
  REQUIRE(pool.ok());
  auto& p = **pool;
  constexpr int kFunctions = 50, kRuns = 2000;
  std::atomic<int> ok{0}, wrong{0};
  std::promise<void> all;
  std::atomic<int> left{kRuns};
  for (int i = 0; i < kRuns; ++i) {
    int f = i % kFunctions;
    auto j = run_job("fn" + std::to_string(f), "function f(m){ return {f: " + std::to_string(f) + ", n: m.n}; }",
                     "{\"n\":" + std::to_string(i) + "}");
    std::string want = "{\"f\":" + std::to_string(f) + ",\"n\":" + std::to_string(i) + "}";
    j.done = [&, want](RunResult r) {
      (r.output == want ? ok : wrong)++;
      if (--left == 0) all.set_value();
    };
    p.submit(std::move(j));
  }
  REQUIRE(all.get_future().wait_for(60s) == std::future_status::ready);
  CHECK(ok == kRuns);
  CHECK(wrong == 0);
}

TEST_CASE("compile jobs report syntax errors with their position") {
  auto pool = WorkerPool::start(options(1));
  REQUIRE(pool.ok());
  Job j;
  j.wire.kind = protocol::JobKind::compile;
  j.wire.code = "function f(m) {\n  return m +;\n}";
  auto r = (*pool)->run(std::move(j));
  CHECK(r.has_error);
  CHECK(r.line == 2);
  CHECK(r.column == 13);
}

TEST_CASE("a slow function does not hold up another function that hashes to the same worker") {
  auto pool = WorkerPool::start(options(2));
  REQUIRE(pool.ok());
  auto& p = **pool;
  // Two function ids whose keys pick the same home worker.
  auto home = [](const std::string& fid) { return std::hash<std::string>{}(fid + "@1") % 2; };
  std::string fast = "fast-0";
  for (int i = 1; home(fast) != home("slow"); ++i) fast = "fast-" + std::to_string(i);

  Answer slow;
  p.submit(slow.with(run_job("slow", kSlow, "{}", 3000)));
  const int home_pid = p.pids().at(home("slow"));
  REQUIRE(busy(home_pid));  // the slow one is running on the home worker now

  auto t0 = Clock::now();
  auto r = p.run(run_job(fast, kEcho, R"({"n":7})"));
  auto took = Clock::now() - t0;
  CHECK(r.output == R"({"n":7})");
  CHECK(took < 500ms);  // the idle worker took it instead of queueing behind the slow one
  CHECK(slow.future.get().status == "success");
}
