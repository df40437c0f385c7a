// Worker processes under the supervisor: a V8 abort kills only its worker, which is
// restarted at once; the culprit's call gets an error, its neighbours still run; repeated
// crashes quarantine only that function.
#include "pool.hpp"

#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "dm/testing/testing.hpp"

using namespace dm::function_runner;
using namespace std::chrono_literals;

namespace {
PoolOptions options(int workers = 2) {
  PoolOptions o;
  o.binary = dm::testing::binary_dir() + "/services/function-runner/dm-function-runner";
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

const char* kEcho = "function f(m){ return {n: m.n}; }";
const char* kHuge = "function f(m){ const a = new Array(1e8).fill(1); return {n: a.length}; }";
}  // namespace

TEST_CASE("one huge allocation kills only its worker; the service keeps running") {
  auto pool = WorkerPool::start(options(1));
  REQUIRE(pool.ok());
  auto& p = **pool;
  CHECK(p.run(run_job("echo", kEcho, R"({"n":1})")).output == R"({"n":1})");

  // The crash and a neighbour in the same frame: the neighbour must still get its answer.
  std::promise<RunResult> bomb, after;
  auto j1 = run_job("bomb", kHuge);
  j1.done = [&](RunResult r) { bomb.set_value(std::move(r)); };
  auto j2 = run_job("echo", kEcho, R"({"n":2})");
  j2.done = [&](RunResult r) { after.set_value(std::move(r)); };
  p.submit(std::move(j1));
  p.submit(std::move(j2));
  auto b = bomb.get_future().get();
  CHECK(b.status == "error");
  CHECK(b.error_message.find("crashed its worker") != std::string::npos);
  CHECK(after.get_future().get().output == R"({"n":2})");
  CHECK(p.stats().crashes >= 1);
  CHECK(p.stats().restarts >= 1);

  // Second strike → quarantined; others unaffected.
  CHECK(p.run(run_job("bomb", kHuge)).status == "error");
  CHECK(p.quarantined("bomb"));
  auto q = p.run(run_job("bomb", kHuge));
  CHECK(q.error_message.find("quarantined") != std::string::npos);
  CHECK_FALSE(p.quarantined("echo"));
  CHECK(p.run(run_job("echo", kEcho, R"({"n":3})")).output == R"({"n":3})");
}

TEST_CASE("a worker killed from outside is replaced and the queued work still runs") {
  auto pool = WorkerPool::start(options(1));
  REQUIRE(pool.ok());
  auto& p = **pool;
  CHECK(p.run(run_job("echo", kEcho, R"({"n":1})")).status == "success");
  auto pid = p.pids().at(0);
  REQUIRE(pid > 0);  // kill(-1) would kill every process we may signal
  std::promise<RunResult> slow;
  auto j = run_job("slow", "function f(){ const t = Date.now(); while (Date.now() - t < 300) {} return {ok: 1}; }");
  j.done = [&](RunResult r) { slow.set_value(std::move(r)); };
  p.submit(std::move(j));
  std::this_thread::sleep_for(100ms);
  ::kill(pid, SIGKILL);
  CHECK(slow.get_future().get().status == "error");
  CHECK(p.pids().at(0) != pid);
  CHECK(p.run(run_job("echo", kEcho, R"({"n":5})")).output == R"({"n":5})");
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

  std::promise<RunResult> slow_done;
  auto slow = run_job("slow", "function f(m){ const end = Date.now() + 1000; while (Date.now() < end) {} return m; }",
                      "{}", 3000);
  slow.done = [&](RunResult r) { slow_done.set_value(std::move(r)); };
  p.submit(std::move(slow));
  std::this_thread::sleep_for(100ms);  // the slow one is running on the home worker now

  auto t0 = std::chrono::steady_clock::now();
  auto r = p.run(run_job(fast, kEcho, R"({"n":7})"));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.output == R"({"n":7})");
  CHECK(took < 500ms);  // the idle worker took it instead of queueing behind the slow one
  CHECK(slow_done.get_future().get().status == "success");
}
