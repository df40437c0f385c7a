// dm-ingest-bench: durable webhook acceptance of the ingest service, measured with dm-load.
// Starts NATS (JetStream, file storage), PostgreSQL, the registry and ingest on free ports,
// registers the devices dm-load will use, then runs dm-load flat out and at a fixed rate
// RUNS times each and prints every run and the medians. Every 2xx counted here was stored
// in the JetStream stream first (ingest answers from the publish ack).
//
//   build-x/tools/bench/dm-ingest-bench [--runs 3] [--duration 10] [--connections 32]
//                                      [--rate 5000] [--devices 100] [--http-threads 1]
// Run from the repository root (or set DM_SOURCE_DIR / DM_BINARY_DIR).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/http/client.hpp"
#include "dm/json/json.hpp"
#include "dm/testing/stack.hpp"
#include "uplink.hpp"

namespace {

struct Args {
  int runs = 3;
  double duration = 10;
  int connections = 32;
  double rate = 5000;
  int devices = 100;
  int http_threads = 1;
  bool wrk = false;         // flat-out runs with wrk (tools/bench/ingest_wrk.lua): a lighter generator
  bool no_history = false;  // PostgreSQL stopped during the runs: acceptance without history writes
};

struct Run {
  double ok_rate = 0, p50 = 0, p99 = 0;
  std::string raw;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Run load(const std::string& cmd) {
  auto r = dm::testing::run_command(cmd);
  Run run;
  std::size_t start = r.output.find('{');
  if (start == std::string::npos) {
    std::fprintf(stderr, "dm-load failed: %s\n", r.output.c_str());
    return run;
  }
  run.raw = r.output.substr(start, r.output.find('\n', start) - start);
  auto doc = dm::json::parse(run.raw);
  if (!doc) return run;
  run.ok_rate = (*doc)["ok_rate"].GetDouble();
  run.p50 = (*doc)["p50_ms"].GetDouble();
  run.p99 = (*doc)["p99_ms"].GetDouble();
  return run;
}

// Rows the history writer has stored (from ingest's /metrics).
double history_rows(const std::string& ingest_url) {
  auto r = dm::http::fetch("GET", ingest_url + "/metrics");
  if (!r) return -1;
  const std::string key = "\ndm_ingest_history_rows_total ";
  auto pos = r->body.find(key);
  return pos == std::string::npos ? -1 : std::atof(r->body.c_str() + pos + key.size());
}

// Lets the history writer catch up, so every run starts from the same state; prints how long
// it took (the history lag after a flat-out run).
void settle(dm::bus::Connection& nats, const std::string& ingest_url) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 600; ++i) {
    auto state = nats.jetstream().stream_state("DM_DEVICE_EVENTS");
    if (state && history_rows(ingest_url) >= static_cast<double>(state->messages)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::printf("  (history caught up after %.1f s)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::fflush(stdout);
}

// wrk's "Requests/sec" when every answer was 2xx; 0 otherwise (printed).
double wrk_rate(const std::string& cmd) {
  auto r = dm::testing::run_command(cmd);
  std::printf("%s\n", r.output.c_str());
  if (r.output.find("Non-2xx") != std::string::npos || r.output.find("Socket errors") != std::string::npos) return 0;
  auto pos = r.output.find("Requests/sec:");
  return pos == std::string::npos ? 0 : std::atof(r.output.c_str() + pos + 13);
}

// Options as "--name value" pairs, and the flags --wrk and --no-history; false (said on
// stderr) for an unknown option.
bool parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--wrk" || k == "--no-history") {
      (k == "--wrk" ? a.wrk : a.no_history) = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) break;
    double v = std::atof(argv[i + 1]);
    if (k == "--runs")
      a.runs = static_cast<int>(v);
    else if (k == "--duration")
      a.duration = v;
    else if (k == "--connections")
      a.connections = static_cast<int>(v);
    else if (k == "--rate")
      a.rate = v;
    else if (k == "--devices")
      a.devices = static_cast<int>(v);
    else if (k == "--http-threads")
      a.http_threads = static_cast<int>(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return false;
    }
  }
  return true;
}

// The devices dm-load posts for, registered through the registry's API over NATS.
bool register_devices(dm::bus::Connection& nats, int devices) {
  for (int i = 0; i < devices; ++i) {
    std::string eui = dm::tools::dev_eui_for(static_cast<std::uint32_t>(i), "70b3d5");
    std::string body = R"({"dev_eui":")" + eui + R"(","name":"bench-)" + std::to_string(i) + R"("})";
    auto r = nats.request("dm.rpc.registry.gateway", body, std::chrono::seconds(5),
                          {{"Dm-Method", "POST"},
                           {"Dm-Target", "/api/v1/devices"},
                           {"Content-Type", "application/json"},
                           {"Dm-Role", "admin"}});
    if (!r || r->header("Dm-Status") != std::optional<std::string>("201")) {
      std::fprintf(stderr, "device registration failed: %s\n", r ? r->data.c_str() : r.error().message.c_str());
      return false;
    }
  }
  return true;
}

// What the runs share: the commands that load ingest, and how to wait between runs.
struct Bench {
  const Args& a;
  std::string load_cmd;  // dm-load flat out, JSON output
  std::string wrk_cmd;
  std::function<void()> settle;  // nothing with --no-history
};

// Accepted events per second of each flat-out run.
std::vector<double> flat_out_runs(const Bench& b) {
  std::vector<double> flat;
  for (int i = 0; i < b.a.runs; ++i) {
    if (b.a.wrk) {
      flat.push_back(wrk_rate(b.wrk_cmd));
      std::printf("flat out (wrk) run %d: %.0f/s\n", i + 1, flat.back());
      std::fflush(stdout);
      b.settle();
      continue;
    }
    auto r = load(b.load_cmd);
    std::printf("flat out  run %d: %s\n", i + 1, r.raw.c_str());
    std::fflush(stdout);
    flat.push_back(r.ok_rate);
    b.settle();
  }
  return flat;
}

struct FixedRuns {
  std::vector<double> rate, p50, p99;
};

FixedRuns fixed_rate_runs(const Bench& b) {
  FixedRuns f;
  for (int i = 0; i < b.a.runs; ++i) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.0f", b.a.rate);
    auto r = load(b.load_cmd + " --rate " + rate);
    std::printf("%s/s run %d: %s\n", rate, i + 1, r.raw.c_str());
    f.rate.push_back(r.ok_rate);
    f.p50.push_back(r.p50);
    f.p99.push_back(r.p99);
    b.settle();
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse_args(argc, argv, a)) return 2;
  const std::string secret = "bench-secret-0123456789abcdef";
  dm::testing::Stack stack(
      {"registry", "ingest"},
      {{"INGEST_SECRET", secret}, {"LOG_LEVEL", "warning"}, {"INGEST_HTTP_THREADS", std::to_string(a.http_threads)}});
  dm::bus::Options o;
  o.url = stack.nats().url();
  auto nats = dm::bus::Connection::connect(o);
  if (!nats) return 1;
  if (!register_devices(**nats, a.devices)) return 1;
  std::this_thread::sleep_for(std::chrono::seconds(1));  // change events reach ingest's cache

  const std::string webhook =
      "'http://127.0.0.1:" + std::to_string(stack.port("ingest")) + "/api/v1/ingest/chirpstack?event=up'";
  Bench b{.a = a,
          .load_cmd = dm::testing::binary_dir() + "/tools/dm-load --url " + webhook + " --secret " + secret +
                      " --devices " + std::to_string(a.devices) + " --duration " + std::to_string(a.duration) +
                      " --connections " + std::to_string(a.connections) + " --json",
          .wrk_cmd = "INGEST_SECRET=" + secret + " DEVICES=" + std::to_string(a.devices) + " wrk -t2 -c" +
                     std::to_string(a.connections) + " -d" + std::to_string(static_cast<int>(a.duration)) + "s -s " +
                     dm::testing::source_dir() + "/tools/bench/ingest_wrk.lua " + webhook};
  // Warm-up: connections, stream files, the history writer's first batches.
  (void)load(b.load_cmd + " --requests 20000");
  const std::string ingest_url = stack.url("ingest");
  settle(**nats, ingest_url);
  if (a.no_history) {
    // The history writer then fails and naks cheaply: what is left is the acceptance path alone.
    stack.pg().stop();
    std::printf("  (PostgreSQL stopped: no history writes during the runs)\n");
  }
  b.settle = [&] {
    if (!a.no_history) settle(**nats, ingest_url);
  };

  auto flat = flat_out_runs(b);
  auto fixed = fixed_rate_runs(b);
  std::printf("\nmedian of %d runs (%d connections, %d devices, %d HTTP thread(s)):\n", a.runs, a.connections,
              a.devices, a.http_threads);
  std::printf("  durable accepts flat out: %.0f events/s\n", median(flat));
  std::printf("  at %.0f events/s: achieved %.0f/s, p50 %.2f ms, p99 %.2f ms\n", a.rate, median(fixed.rate),
              median(fixed.p50), median(fixed.p99));
  auto state = (*nats)->jetstream().stream_state("DM_DEVICE_EVENTS");
  if (state)
    std::printf("  stream DM_DEVICE_EVENTS: %llu messages\n", static_cast<unsigned long long>(state->messages));
  return 0;
}
