// The walls around a V8 worker process (sandbox.hpp), seen from outside through /proc: an empty
// environment, only its own descriptors, not root when the runner is, no new privileges, a
// seccomp filter that kills the process on a system call it does not allow. And what must still
// work behind them: heavy functions (JSON, regular expressions, big arrays, dates and Intl, GC
// churn), the heap and time limits, and V8 aborts proven as crashes.
//
// User JavaScript cannot reach any of this anyway: it sees no host object, file, socket or
// process API (engine_test's escape probes); these are the walls behind that one.
#include "sandbox.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include "dm/testing/testing.hpp"
#include "pool.hpp"
#include "worker_process.hpp"

using namespace dm::function_runner;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {
std::string runner_binary() { return dm::testing::binary_dir() + "/services/function-runner/dm-function-runner"; }

PoolOptions options(int workers = 1) {
  PoolOptions o;
  o.binary = runner_binary();
  o.workers = workers;
  return o;
}

Job run_job(const std::string& fid, const std::string& code, std::uint32_t timeout_ms = 5000) {
  Job j;
  j.wire.kind = protocol::JobKind::run;
  j.wire.key = fid + "@1";
  j.wire.input = R"({"n":1})";
  j.wire.params = "{}";
  j.wire.timeout_ms = timeout_ms;
  j.code = std::make_shared<const std::string>(code);
  j.function_id = fid;
  return j;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// "Uid:\t65534\t65534\t65534\t65534" → the values after the key, for each key of the file.
std::map<std::string, std::string> proc_status(int pid) {
  std::map<std::string, std::string> out;
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = value;
  }
  return out;
}

// Descriptor → what it points at ("pipe:[123]", "/dev/null", ...).
std::map<int, std::string> open_fds(int pid) {
  std::map<int, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    out[std::stoi(e.path().filename().string())] = std::filesystem::read_symlink(e.path(), ec).string();
  }
  return out;
}

std::string same_four(const std::string& id) { return id + "\t" + id + "\t" + id + "\t" + id; }

// Runs `child` in a forked process (this test process has no other thread at that point) and
// returns its wait status.
template <typename F>
int in_child(F child) {
  pid_t pid = ::fork();
  if (pid == 0) {
    child();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}
}  // namespace

TEST_CASE("the filter kills the process on a system call it does not allow, and allows the job pipes") {
  auto killed_by_sigsys = [](int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; };
  // Each forbidden call, alone, after the filter.
  CHECK(killed_by_sigsys(in_child([] {
    if (!restrict_syscalls()) ::_exit(10);
    (void)!::socket(AF_INET, SOCK_STREAM, 0);
  })));
  CHECK(killed_by_sigsys(in_child([] {
    if (!restrict_syscalls()) ::_exit(10);
    (void)!::open("/etc/hostname", O_RDONLY);
  })));
  CHECK(killed_by_sigsys(in_child([] {
    if (!restrict_syscalls()) ::_exit(10);
    (void)!::kill(1, 0);  // signals go to itself only
  })));
  CHECK(killed_by_sigsys(in_child([] {
    if (!restrict_syscalls()) ::_exit(10);
    (void)!::write(5, "x", 1);  // writes go to the reply pipe and stderr only
  })));
  // What a worker does between jobs is allowed: memory, time, writing its answer, exiting.
  const int fine = in_child([] {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    if (!restrict_syscalls()) ::_exit(10);
    std::string big(8 << 20, 'x');  // an anonymous mapping
    std::this_thread::sleep_for(1ms);
    (void)!::write(1, big.data(), 16);
    ::_exit(big[42] == 'x' ? 0 : 11);
  });
  CHECK(WIFEXITED(fine));
  CHECK(WEXITSTATUS(fine) == 0);
}

TEST_CASE("a worker holds no environment, only its own descriptors, no privileges, and runs under the filter") {
  auto pool = WorkerPool::start(options());
  REQUIRE(pool.ok());
  auto& p = **pool;
  CHECK(p.run(run_job("echo", "function f(m){ return m; }")).output == R"({"n":1})");
  const int pid = p.pids().at(0);
  REQUIRE(pid > 0);

  // The runner's environment (NATS password, database URL, SECRET_KEY where it had one) stays
  // behind: the worker was started with none.
  CHECK(read_file("/proc/" + std::to_string(pid) + "/environ").empty());

  // Job pipes, stderr on /dev/null; the shared page is a mapping, its descriptor closed.
  auto fds = open_fds(pid);
  INFO([&] {
    std::string all;
    for (const auto& [fd, what] : fds) all += std::to_string(fd) + "=" + what + " ";
    return all;
  }());
  REQUIRE(fds.size() == 3);
  CHECK(fds[0].rfind("pipe:", 0) == 0);
  CHECK(fds[1].rfind("pipe:", 0) == 0);
  CHECK(fds[2] == "/dev/null");
  CHECK(read_file("/proc/" + std::to_string(pid) + "/maps").find("dm-runner-slot") != std::string::npos);

  auto status = proc_status(pid);
  CHECK(status["NoNewPrivs"] == "1");
  CHECK(status["Seccomp"] == "2");  // filter mode
  CHECK(status["CapEff"] == "0000000000000000");
  CHECK(status["CapPrm"] == "0000000000000000");
  if (::geteuid() == 0) {
    // Root's workers run as nobody, with no supplementary group.
    CHECK(status["Uid"] == same_four("65534"));
    CHECK(status["Gid"] == same_four("65534"));
    CHECK(status["Groups"].empty());
  } else {
    CHECK(status["Uid"].rfind(std::to_string(::getuid()) + "\t", 0) == 0);
  }
}

TEST_CASE("RUNNER_WORKER_USER names the user of root's workers; root itself or an unknown user is refused") {
  CHECK(resolve_worker_user("4242:4343").value().uid == 4242);
  CHECK(resolve_worker_user("4242:4343").value().gid == 4343);
  CHECK(resolve_worker_user("4242").value().gid == 4242);
  CHECK(resolve_worker_user("nobody").value().uid != 0);
  CHECK_FALSE(resolve_worker_user("root").ok());
  CHECK_FALSE(resolve_worker_user("0:5").ok());
  CHECK_FALSE(resolve_worker_user("5:0").ok());
  CHECK_FALSE(resolve_worker_user("no-such-user-here").ok());
  if (::geteuid() != 0) return;  // only root's workers switch user

  auto o = options();
  o.worker_user = "4242:4343";
  auto pool = WorkerPool::start(o);
  REQUIRE(pool.ok());
  CHECK((*pool)->run(run_job("echo", "function f(m){ return m; }")).status == "success");
  auto status = proc_status((*pool)->pids().at(0));
  CHECK(status["Uid"] == same_four("4242"));
  CHECK(status["Gid"] == same_four("4343"));

  o.worker_user = "root";
  auto refused = WorkerPool::start(o);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("must not be root") != std::string::npos);
}

TEST_CASE("a worker started by root without a user to become refuses to start, and says why") {
  if (::geteuid() != 0) return;
  WorkerSpec spec;
  spec.binary = runner_binary();
  auto w = WorkerProcess::start(spec);  // no spec.user
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code == dm::Errc::unavailable);
  CHECK(w.error().message.find("worker refused to start") != std::string::npos);
  CHECK(w.error().message.find("no user to run as") != std::string::npos);
}

TEST_CASE("heavy functions run correctly under the filter, without a single worker crash") {
  auto pool = WorkerPool::start(options(2));
  REQUIRE(pool.ok());
  auto& p = **pool;
  struct Case {
    const char* name;
    const char* code;
    const char* want;
  };
  const Case cases[] = {
      {"json",
       "function f(m){ const rows = []; for (let i = 0; i < 20000; i++) rows.push({id: i, name: 'dev-' + i, "
       "tags: ['a', 'b'], v: i / 3}); const text = JSON.stringify(rows); const back = JSON.parse(text); "
       "return {n: back.length, last: back[19999].name, size: text.length > 1000000}; }",
       R"({"n":20000,"last":"dev-19999","size":true})"},
      {"regex",
       "function f(m){ const words = []; for (let i = 0; i < 20000; i++) words.push('user' + i + "
       "'@example.com'); const ok = words.filter(w => /^[\\w.+-]+@(?<host>[\\w-]+)\\.(com|org)$/.test(w)); "
       "const caps = 'Ärger über Ölpreise'.match(/\\p{Lu}/gu); const back = /(a+)+b/.test('a'.repeat(20) + 'b'); "
       "const swapped = 'x=1;y=2'.replace(/(\\w)=(\\d)/g, (all, k, v) => v + '=' + k); "
       "return {ok: ok.length, caps: caps.length, back, swapped}; }",
       R"({"ok":20000,"caps":2,"back":true,"swapped":"1=x;2=y"})"},
      {"arrays",
       "function f(m){ const a = Array.from({length: 1000000}, (_, i) => (i * 7919) % 1000003); "
       "a.sort((x, y) => x - y); const t = new Float64Array(1000000); for (let i = 0; i < t.length; i++) t[i] = i; "
       "const sum = t.reduce((s, v) => s + v, 0); const keys = new Map(); for (let i = 0; i < 100000; i++) "
       "keys.set('k' + i, i); "
       "return {first: a[0], sorted: a[1] <= a[2], sum, map: keys.size, big: String(2n ** 100n)}; }",
       R"({"first":0,"sorted":true,"sum":499999500000,"map":100000,"big":"1267650600228229401496703205376"})"},
      {"dates",
       "function f(m){ const d = new Date(Date.UTC(2024, 1, 29, 12, 0, 0)); return {iso: d.toISOString(), "
       "local: typeof d.toString(), offset: typeof d.getTimezoneOffset(), hours: typeof d.getHours(), "
       "fmt: typeof d.toLocaleString(), num: typeof (1234.5).toLocaleString(), "
       "intl: typeof new Intl.NumberFormat('de-DE').format(1234.5), "
       "tz: typeof Intl.DateTimeFormat().resolvedOptions().timeZone, cmp: 'a'.localeCompare('b'), "
       "now: Date.now() > 0, rnd: Math.random() < 1}; }",
       R"({"iso":"2024-02-29T12:00:00.000Z","local":"string","offset":"number","hours":"number","fmt":"string","num":"string","intl":"string","tz":"string","cmp":-1,"now":true,"rnd":true})"},
      {"churn",
       "async function f(m){ let keep = []; for (let r = 0; r < 50; r++) { let tmp = []; "
       "for (let i = 0; i < 20000; i++) tmp.push({i, s: 'x' + i}); keep.push(tmp[r]); } "
       "const v = await Promise.all([1, 2, 3].map(async x => x * 2)); function* g(){ yield 1; yield 2; } "
       "const p = new Proxy({}, {get: (t, k) => k}); return {kept: keep.length, v, gen: [...g()], proxy: p.hello}; }",
       R"({"kept":50,"v":[2,4,6],"gen":[1,2],"proxy":"hello"})"},
  };
  for (const auto& [name, code, want] : cases) {
    // Twice: the second run is the cached function in a fresh instance.
    for (int round = 0; round < 2; ++round) {
      auto r = p.run(run_job(name, code));
      INFO(name << ": " << r.status << " " << r.error_message);
      CHECK(r.status == "success");
      CHECK(r.output == want);
    }
  }
  auto thrown = p.run(run_job("throws", "function f(m){ function inner(){ throw new TypeError('nope'); } inner(); }"));
  CHECK(thrown.status == "error");
  CHECK(thrown.error_stack.find("inner") != std::string::npos);
  CHECK(p.stats().crashes == 0);  // a system call outside the filter would have been a crash
}

TEST_CASE("under the filter the heap and time limits still stop a run and the worker goes on") {
  auto pool = WorkerPool::start(options());
  REQUIRE(pool.ok());
  auto& p = **pool;
  REQUIRE(p.run(run_job("echo", "function f(m){ return m; }")).status == "success");
  const int pid = p.pids().at(0);

  auto slow = p.run(run_job("loop", "function f(m){ for(;;){} }", 200));
  CHECK(slow.status == "timeout");
  auto bomb = p.run(run_job("heap", "function f(m){ const a = []; for(;;) a.push({x: new Array(1000).fill(1)}); }"));
  INFO(bomb.error_message);
  CHECK(bomb.error_message.find("memory limit exceeded") != std::string::npos);
  CHECK(p.run(run_job("echo", "function f(m){ return m; }")).output == R"({"n":1})");
  CHECK(p.pids().at(0) == pid);  // the same worker: nothing crashed
  CHECK(p.stats().crashes == 0);
}

TEST_CASE("a V8 abort under the filter is still a crash, proven on a fresh worker") {
  auto o = options();
  o.quarantine_strikes = 5;
  auto pool = WorkerPool::start(o);
  REQUIRE(pool.ok());
  auto& p = **pool;
  auto r = p.run(run_job("bomb",
                         "function f(m){ const a = 'x'.repeat(2**29 - 24), b = 'y'.repeat(2**29 - 24); return {n: "
                         "a.indexOf('z') + b.indexOf('z')}; }"));
  CHECK(r.error_message.find("crashed its worker") != std::string::npos);
  CHECK(p.stats().proven == 1);
  CHECK(p.run(run_job("echo", "function f(m){ return m; }")).status == "success");
}
