// Function runner benchmark (not a test): the issue's example function, cached.
//   1. in-process: Engine::run calls/s on one core, with and without the watchdog
//      (the price of the timeout machinery);
//   2. through the worker pool (pipes to one worker process, frames of 512 jobs);
//   3. through NATS: dm.fn.exec batches against a real stack (NATS, PostgreSQL, registry,
//      function-runner with 1 worker), several batches in flight.
// Each figure is the median of 5 runs. Usage: function_runner_bench [inprocess|pool|nats]...
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/contract/work.hpp"
#include "dm/db/db.hpp"
#include "dm/json/json.hpp"
#include "dm/testing/api.hpp"
#include "dm/testing/stack.hpp"
#include "engine.hpp"
#include "pool.hpp"

using namespace dm;
using namespace dm::function_runner;
using Clock = std::chrono::steady_clock;

namespace {
const char* kExample =
    "function processTemperature(data) {\n"
    "  if (data.data.temperature) {\n"
    "    data.data.temperatureF = (data.data.temperature * 9) / 5 + 32;\n"
    "  }\n"
    "  return data;\n"
    "}";
// A typical uplink message as the orchestrator sends it (~400 bytes).
const char* kInput =
    R"({"dev_eui":"0004a30b001c0530","device":{"id":"9b2f1c3e-5d4a-4e8b-a1c2-0f9e8d7c6b5a","name":"greenhouse-1",)"
    R"("labels":["greenhouse"]},"event":"up","time":"2024-03-12T10:15:30.201Z","f_port":2,"f_cnt":1234,)"
    R"("data":{"temperature":21.5,"humidity":40},"payload":{"base64":"AQID","bytes":[1,2,3]},)"
    R"("rx":{"rssi":-57,"snr":9.5,"gateways":1}})";

// This machine's 2 cores are shared with other builds, so wall-clock rates swing; rates are
// also given per CPU-second actually consumed (process CPU time, all threads, watchdog included),
// which is what "per core" means.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// utime + stime of another process in seconds (/proc/<pid>/stat fields 14 and 15).
double cpu_seconds_of(int pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return 0;
  char buf[2048];
  std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  unsigned long ut = 0, st = 0;
  std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Rate {
  double wall = 0, cpu = 0;
};

Rate engine_rate(bool watchdog, int n, const char* input = kInput) {
  EngineLimits limits;
  limits.watchdog = watchdog;
  Engine e(limits);
  e.load("f@1", kExample);
  for (int i = 0; i < 1000; ++i) (void)e.run("f@1", kInput, "{}", std::chrono::milliseconds(100));
  auto t = Clock::now();
  double c = cpu_seconds();
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    auto r = e.run("f@1", input, "{}", std::chrono::milliseconds(1000));
    failed += r.status != "success";
  }
  if (failed) std::fprintf(stderr, "%d runs failed\n", failed);
  return {n / std::chrono::duration<double>(Clock::now() - t).count(), n / (cpu_seconds() - c)};
}

void bench_inprocess() {
  std::vector<double> with, without, with_wall, without_wall;
  for (int i = 0; i < 5; ++i) {
    auto a = engine_rate(false, 200000);
    auto b = engine_rate(true, 200000);
    without.push_back(a.cpu);
    without_wall.push_back(a.wall);
    with.push_back(b.cpu);
    with_wall.push_back(b.wall);
  }
  double w = median(with), wo = median(without);
  std::printf(
      "in-process: %.0f calls per CPU-second with watchdog, %.0f without; timeout machinery costs %.1f%% "
      "(wall-clock: %.0f/s and %.0f/s)\n",
      w, wo, 100.0 * (wo - w) / wo, median(with_wall), median(without_wall));
}

// The same with the smallest message the example accepts: the share of JSON copying.
void bench_small() {
  std::vector<double> rates;
  for (int i = 0; i < 5; ++i) rates.push_back(engine_rate(true, 200000, R"({"data":{"temperature":20}})").cpu);
  std::printf("in-process, minimal message {\"data\":{\"temperature\":20}}: %.0f calls per CPU-second\n",
              median(rates));
}

void bench_pool() {
  PoolOptions o;
  o.binary = testing::binary_dir() + "/services/function-runner/dm-function-runner";
  o.workers = 1;
  auto pool = WorkerPool::start(o);
  if (!pool) return (void)std::fprintf(stderr, "pool: %s\n", pool.error().message.c_str());
  auto code = std::make_shared<const std::string>(kExample);
  std::vector<double> rates, cpu_rates;
  int worker = (*pool)->pids().at(0);
  for (int rep = 0; rep < 5; ++rep) {
    constexpr int n = 200000;
    double c0 = cpu_seconds() + cpu_seconds_of(worker);
    std::atomic<int> left{n};
    std::promise<void> done;
    auto t = Clock::now();
    for (int i = 0; i < n; ++i) {
      Job j;
      j.wire.key = "f@1";
      j.wire.input = kInput;
      j.wire.params = "{}";
      j.code = code;
      j.function_id = "f";
      j.done = [&](RunResult) {
        if (--left == 0) done.set_value();
      };
      (*pool)->submit(std::move(j));
    }
    done.get_future().wait();
    rates.push_back(n / std::chrono::duration<double>(Clock::now() - t).count());
    cpu_rates.push_back(n / (cpu_seconds() + cpu_seconds_of(worker) - c0));
  }
  std::printf(
      "worker pool (1 worker process, pipes): %.0f executions/s wall, %.0f per CPU-second (supervisor + worker)\n",
      median(rates), median(cpu_rates));
}

// A function with the example code, created through the registry's API; its id.
std::optional<std::string> create_function(bus::Connection& nats) {
  json::Writer body;
  body.start_object().field("name", "bench").field("code", kExample).end_object();
  auto created =
      nats.request("dm.rpc.registry.gateway", body.view(), std::chrono::seconds(5),
                   {{"Dm-Method", "POST"}, {"Dm-Target", "/api/v1/functions"}, {"Content-Type", "application/json"}});
  if (!created) {
    std::fprintf(stderr, "create failed\n");
    return std::nullopt;
  }
  auto doc = json::parse(created->data);
  return std::string(json::view((*doc)["id"]));
}

// Request bodies of `batches` batches of `batch` executions each, with ids unique to the rep.
std::vector<std::string> exec_batches(const std::string& id, int rep, int batch, int batches) {
  std::vector<std::string> bodies;
  for (int b = 0; b < batches; ++b) {
    contract::ExecRequestBuilder request;
    for (int i = 0; i < batch; ++i) {
      std::string exec_id = "r" + std::to_string(rep) + "-" + std::to_string(b) + "-" + std::to_string(i);
      request.add(contract::encode(contract::ExecutionRef{
          .id = exec_id, .function_id = id, .version = 1, .input = kInput, .parameters = "{}", .timeout_ms = 100}));
    }
    bodies.push_back(request.take());
  }
  return bodies;
}

// Sends every body as one exec request, `in_flight` outstanding at a time; the seconds until
// all were answered.
double send_batches(bus::Connection& nats, const std::vector<std::string>& bodies, int in_flight) {
  const int batches = static_cast<int>(bodies.size());
  std::mutex m;
  std::condition_variable cv;
  int sent = 0, done = 0, failed = 0;
  std::function<void()> send_one = [&] {
    int b;
    {
      std::lock_guard lock(m);
      if (sent == batches) return;
      b = sent++;
    }
    nats.request_async(contract::subject::kFunctionExec, bodies[static_cast<std::size_t>(b)], std::chrono::seconds(30),
                       [&](Result<bus::Message> r) {
                         if (!r) std::fprintf(stderr, "batch failed: %s\n", r.error().message.c_str());
                         send_one();
                         {
                           std::lock_guard lock(m);
                           ++done;
                           if (!r) ++failed;
                         }
                         cv.notify_all();
                       });
  };
  auto t = Clock::now();
  for (int i = 0; i < in_flight; ++i) send_one();
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done == batches; });
  double secs = std::chrono::duration<double>(Clock::now() - t).count();
  lock.unlock();
  while (true) {  // callbacks still unwinding must not outlive send_one
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::lock_guard g(m);
    if (done == batches) break;
  }
  if (failed) std::fprintf(stderr, "%d batches failed\n", failed);
  return secs;
}

void bench_nats() {
  const char* workers = std::getenv("BENCH_WORKERS");  // worker processes of the runner (default 1)
  std::string n_workers = workers && *workers ? workers : "1";
  testing::Stack stack({"registry", "function-runner"}, {{"RUNNER_WORKERS", n_workers}, {"LOG_LEVEL", "warn"}});
  bus::Options o;
  o.url = stack.nats().url();
  auto nats = bus::Connection::connect(o);
  if (!nats) return;
  auto id = create_function(**nats);
  if (!id) return;
  auto env_int = [](const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
  };
  // BENCH_BATCH executions per request, BENCH_IN_FLIGHT requests outstanding.
  const int kBatch = env_int("BENCH_BATCH", 500), kInFlight = env_int("BENCH_IN_FLIGHT", 4);
  const int kBatches = 50000 / kBatch;
  std::vector<double> rates;
  for (int rep = 0; rep < 5; ++rep) {
    double secs = send_batches(**nats, exec_batches(*id, rep, kBatch, kBatches), kInFlight);
    std::fprintf(stderr, "rep %d: answered in %.2f s\n", rep, secs);
    rates.push_back(kBatch * kBatches / secs);
  }
  // The runner keeps no history (the orchestrator records runs with their flow runs): an
  // execution is done when it is answered.
  std::printf("through NATS (batches of %d, %d in flight, %s worker(s)): %.0f executions/s answered\n", kBatch,
              kInFlight, n_workers.c_str(), median(rates));
}
}  // namespace

int main(int argc, char** argv) {
  bool all = argc < 2;
  auto want = [&](const char* name) {
    for (int i = 1; i < argc; ++i)
      if (std::strcmp(argv[i], name) == 0) return true;
    return all;
  };
  if (want("inprocess")) bench_inprocess();
  if (want("small")) bench_small();
  if (want("pool")) bench_pool();
  if (want("nats")) bench_nats();
}
