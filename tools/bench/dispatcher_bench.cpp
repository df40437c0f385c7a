// dispatcher-bench: deliveries per second through the real dispatcher, history recorded.
//
//   dispatcher-bench [--jobs N] [--runs R] [--mode http|mqtt|both] [--env KEY=VALUE ...]
//                    [--sink-delay-ms D] [--sink-threads T]
//
// --sink-delay-ms makes the HTTP receiver answer after D ms (a slow endpoint), serving up to T
// requests at once (default 1 without a delay, 256 with one): what adaptive concurrency is for.
//
// Starts NATS, PostgreSQL, the registry and the dispatcher (dm::testing::Stack), a dm-sink
// (HTTP, keep-alive) or a mosquitto (MQTT QoS 1), creates one integration per run, stops the
// dispatcher, publishes N jobs into DM_DISPATCH, starts the dispatcher again and counts the
// `dm.delivery.<id>` taps it publishes after each outcome is recorded. The rate is N divided
// by the time from the first to the last delivered tap; the median of R runs is reported.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/contract/work.hpp"
#include "dm/http/client.hpp"
#include "dm/json/json.hpp"
#include "dm/testing/stack.hpp"

using namespace dm;
using Clock = std::chrono::steady_clock;

namespace {

std::string create_integration(bus::Connection& nats, const std::string& body) {
  bus::Headers h{{"Dm-Method", "POST"},
                 {"Dm-Target", "/api/v1/integrations"},
                 {"Content-Type", "application/json"},
                 {"Dm-User-Id", "bench"},
                 {"Dm-Role", "admin"}};
  auto r = nats.request("dm.rpc.registry.gateway", body, std::chrono::seconds(10), h);
  if (!r || r->header("Dm-Status").value_or("") != "201") {
    std::fprintf(stderr, "creating the integration failed: %s\n", r ? r->data.c_str() : r.error().message.c_str());
    std::exit(1);
  }
  auto doc = json::parse(r->data);
  return std::string(json::view((*doc)["id"]));
}

double run_once(testing::Stack& stack, bus::Connection& nats, const std::string& config, const std::string& type,
                int jobs, int run) {
  std::string id = create_integration(nats, R"({"name":"bench-)" + type + "-" + std::to_string(run) + "-" +
                                                std::to_string(::getpid()) + R"(","type":")" + type + R"(","config":)" +
                                                config + "}");
  std::atomic<int> delivered{0}, other{0};
  std::atomic<std::int64_t> first_ns{0}, last_ns{0};
  auto sub = nats.subscribe("dm.delivery." + id, "", [&](bus::Message&& m) {
    auto now_ns = Clock::now().time_since_epoch().count();
    if (m.data.find("\"status\":\"delivered\"") == std::string::npos) {
      ++other;
      return;
    }
    std::int64_t zero = 0;
    first_ns.compare_exchange_strong(zero, now_ns);
    last_ns = now_ns;
    ++delivered;
  });
  if (!sub) std::exit(1);
  stack.stop("integration-dispatcher");
  std::atomic<int> acked{0}, failed{0};
  for (int i = 0; i < jobs; ++i) {
    std::string job_id = "bench-" + id + "-" + std::to_string(i);
    std::string job = contract::encode(
        contract::DeliveryJobRef{.job_id = job_id,
                                 .kind = contract::JobKind::integration,
                                 .target_id = id,
                                 .flow_id = "bench",
                                 .flow_run_id = "r",
                                 .node_id = "n",
                                 .dev_eui = "0004a30b001c0530",
                                 .message = R"({"temperature":21.5,"humidity":40,"dev_eui":"0004a30b001c0530"})",
                                 .created_at = "2026-11-27T09:00:00Z"});
    nats.jetstream().publish_async(contract::subject::dispatch(id), job, job_id, [&](Result<bus::PubAck> r) {
      if (r)
        ++acked;
      else
        ++failed;
    });
  }
  while (acked + failed < jobs) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (failed) std::fprintf(stderr, "%d publishes failed\n", failed.load());
  stack.start("integration-dispatcher");
  if (!stack.wait_ready("integration-dispatcher", std::chrono::seconds(30))) std::exit(1);
  auto deadline = Clock::now() + std::chrono::seconds(300);
  while (delivered < acked && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double secs = static_cast<double>(last_ns - first_ns) / 1e9;
  double rate = secs > 0 ? delivered / secs : 0;
  std::printf("%s run %d: %d delivered (%d other outcomes) in %.2f s = %.0f deliveries/s\n", type.c_str(), run,
              delivered.load(), other.load(), secs, rate);
  std::fflush(stdout);
  return rate;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct BenchOptions {
  int jobs = 50000, runs = 3, sink_delay_ms = 0, sink_threads = 0;
  std::string mode = "both";
  std::map<std::string, std::string> env{{"OUTBOUND_ALLOW", "127.0.0.1"}, {"LOG_LEVEL", "warning"}};
};

BenchOptions parse_args(int argc, char** argv) {
  BenchOptions o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--jobs")
      o.jobs = std::atoi(v.c_str());
    else if (k == "--runs")
      o.runs = std::atoi(v.c_str());
    else if (k == "--mode")
      o.mode = v;
    else if (k == "--sink-delay-ms")
      o.sink_delay_ms = std::atoi(v.c_str());
    else if (k == "--sink-threads")
      o.sink_threads = std::atoi(v.c_str());
    else if (k == "--env" && v.find('=') != std::string::npos)
      o.env[v.substr(0, v.find('='))] = v.substr(v.find('=') + 1);
  }
  return o;
}

// Deliveries to dm-sink, which reports how many requests it held at once and duplicates.
void bench_http(testing::Stack& stack, bus::Connection& nats, const BenchOptions& o) {
  int port = testing::free_port();
  int sink_threads = o.sink_threads > 0 ? o.sink_threads : o.sink_delay_ms > 0 ? 256 : 1;
  testing::Process sink({testing::binary_dir() + "/tools/dm-sink", "--host", "127.0.0.1", "--port",
                         std::to_string(port), "--threads", std::to_string(sink_threads), "--delay-ms",
                         std::to_string(o.sink_delay_ms)});
  testing::wait_for_port(port, std::chrono::seconds(10));
  std::vector<double> rates;
  std::string sink_url = "http://127.0.0.1:" + std::to_string(port);
  for (int r = 1; r <= o.runs; ++r) {
    (void)http::fetch("POST", sink_url + "/_sink/reset");
    rates.push_back(run_once(stack, nats, R"({"url":")" + sink_url + R"(/in"})", "http", o.jobs, r));
    if (auto s = http::fetch("GET", sink_url + "/_sink/stats"); s.ok()) {
      auto doc = json::parse(s->body);
      if (doc.ok() && doc->IsObject())
        std::printf("  receiver: at most %lld requests at once, %lld duplicates\n",
                    static_cast<long long>((*doc)["max_in_flight"].GetInt64()),
                    static_cast<long long>((*doc)["duplicates"].GetInt64()));
    }
  }
  std::printf(
      "HTTP median: %.0f deliveries/s (%d runs of %d jobs, keep-alive, history recorded, receiver "
      "answering after %d ms)\n",
      median(rates), o.runs, o.jobs, o.sink_delay_ms);
}

// QoS 1 publishes to a local mosquitto.
void bench_mqtt(testing::Stack& stack, bus::Connection& nats, const BenchOptions& o) {
  testing::Mosquitto broker;
  std::vector<double> rates;
  for (int r = 1; r <= o.runs; ++r) {
    rates.push_back(run_once(
        stack, nats,
        R"({"host":"127.0.0.1","port":)" + std::to_string(broker.port()) + R"(,"topic":"bench/{dev_eui}","qos":1})",
        "mqtt", o.jobs, r));
  }
  std::printf("MQTT QoS 1 median: %.0f publishes/s (%d runs of %d jobs, broker acks, history recorded)\n",
              median(rates), o.runs, o.jobs);
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o = parse_args(argc, argv);
  testing::Stack stack({"registry", "integration-dispatcher"}, o.env);
  auto conn = bus::Connection::connect({.url = stack.nats().url(), .name = "dispatcher-bench"});
  if (!conn) return 1;
  if (o.mode == "http" || o.mode == "both") bench_http(stack, **conn, o);
  if (o.mode == "mqtt" || o.mode == "both") bench_mqtt(stack, **conn, o);
  return 0;
}
