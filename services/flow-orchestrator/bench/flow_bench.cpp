// Flow benchmarks (not ctest tests), on a whole stack with 100 devices carrying one label and
// one flow label → function → HTTP integration:
//
// Throughput (default): dm-load posts N uplinks (flat out, or at BENCH_RATE) to dm-sink's flow;
// measured: webhook acceptance, time until every flow run is recorded and every delivery
// received. BENCH_RUNS runs (default 3), each printed, then the medians.
//   build-x/services/flow-orchestrator/dm-orchestrator-bench   (env BENCH_REQUESTS, BENCH_RATE, BENCH_RUNS)
//
// Backlog ([backlog]): with the orchestrator stopped, dm-load posts N uplinks; then the
// orchestrator starts and the time until every run is recorded and delivered gives the rate of
// the flow path alone (orchestrator, runner, dispatcher), without the webhook in front of it.
//   build-x/services/flow-orchestrator/dm-orchestrator-bench '[backlog]'   (BENCH_REQUESTS, BENCH_RUNS)
//
// Latency ([latency]): uplinks at a fixed offered rate (BENCH_RATE, default 1000/s) for
// BENCH_SECONDS (default 30), each carrying its scheduled send time (so a stall cannot hide
// itself); an HTTP receiver in the benchmark takes each delivery's time of arrival minus that
// time: p50/p95/p99/max webhook → delivery, plus CPU and memory of every service meanwhile.
// BENCH_RUNS runs (default 1). PostgreSQL's WAL is warmed first (BENCH_WAL_WARMUP MB, default
// 2048, the min_wal_size a running cluster keeps; 0 measures a new cluster; tools/bench/cpu.sh
// warms 1024).
//   build-x/services/flow-orchestrator/dm-orchestrator-bench '[latency]'
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

#include "dm/contract/batch.hpp"
#include "dm/contract/work.hpp"
#include "dm/http/server.hpp"
#include "flow_fixture.hpp"
#include "offer.hpp"
#include "proc_stats.hpp"

using namespace dm;
using namespace dm::test;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The q-quantile (0..1) of sorted values.
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

std::int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* kBenchFunction = "function f(m) { return {temperature: m.data.temperature, dev_eui: m.dev_eui}; }";

// Milliseconds from the "sent_us" (the uplink's scheduled send time, µs) found in `text` to
// `now_us`; nothing when `text` carries none.
std::optional<double> ms_since_sent(std::string_view text, std::int64_t now_us, std::int64_t* sent_us = nullptr) {
  auto pos = text.find("\"sent_us\":");
  if (pos == std::string_view::npos) return std::nullopt;
  std::int64_t sent = 0;
  const auto digits = text.substr(pos + 10);
  std::from_chars(digits.data(), digits.data() + digits.size(), sent);
  if (sent_us) *sent_us = sent;
  return static_cast<double>(now_us - sent) / 1000.0;
}

// "p50 … p95 … p99 … max …" of the values (sorted here).
std::string percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.1f  p95 %.1f  p99 %.1f  max %.1f", quantile(v, 0.50), quantile(v, 0.95),
                quantile(v, 0.99), v.empty() ? 0.0 : v.back());
  return buf;
}

// The benchmarked flow: label → function `code` → HTTP integration to `url`.
void create_label_flow(const std::string& label, const std::string& code, const std::string& url) {
  auto fn = create_function(code);
  auto integration = create_http_integration(url);
  create_flow({{"l", "label", label, ""}, {"f", "function", fn, ""}, {"i", "integration", integration, ""}},
              {{"l", "f"}, {"f", "i"}});
  REQUIRE(view_has_flows());
}

// `devices` devices "<prefix><index>" with one new label; returns the label id.
std::string labelled_devices(const std::string& label_name, const char* eui_format, int devices) {
  auto label = created(call("POST", "/api/v1/labels", R"({"name":")" + label_name + "\"}"));
  REQUIRE(after_device_reload([&] {
    for (int i = 0; i < devices; ++i) {
      char eui[17];
      std::snprintf(eui, sizeof eui, eui_format, i);
      auto id = create_device(eui);
      REQUIRE(call("POST", "/api/v1/labels/" + label + "/devices/" + id).status == 200);
    }
  }));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the last device change land in the view
  return label;
}

// Receives deliveries; each body carries "sent_us" (the uplink's scheduled send time).
class LatencyReceiver {
 public:
  LatencyReceiver() {
    auto router = std::make_shared<http::Router>();
    router->add_sync("POST", "/in", [this](const http::Request& req) {
      std::int64_t sent = 0;
      if (auto ms = ms_since_sent(req.body, unix_us(), &sent)) {
        std::lock_guard lock(mu_);
        latencies_ms_.push_back(*ms);
        if (keep_timeline_) timeline_.emplace_back(sent, *ms);
      }
      return http::Response::json(200, R"({"ok":true})");
    });
    server_ = std::make_unique<http::Server>(http::ServerOptions{.host = "127.0.0.1", .port = 0, .threads = 2}, router);
    REQUIRE(server_->start().ok());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/in"; }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return latencies_ms_.size();
  }
  // The latencies since the last take(); timeline() then describes the same deliveries.
  std::vector<double> take() {
    std::lock_guard lock(mu_);
    taken_timeline_ = std::exchange(timeline_, {});
    return std::exchange(latencies_ms_, {});
  }
  // With BENCH_TIMELINE set: the worst latency per 500 ms of send time of the deliveries last
  // taken, to tell a steady queue from stalls.
  std::string timeline() {
    std::lock_guard lock(mu_);
    auto timeline = std::exchange(taken_timeline_, {});
    if (timeline.empty()) return {};
    std::int64_t first = timeline.front().first;
    for (const auto& [sent, ms] : timeline) first = std::min(first, sent);
    std::map<std::int64_t, double> worst;
    for (const auto& [sent, ms] : timeline) {
      double& w = worst[(sent - first) / 500000];
      w = std::max(w, ms);
    }
    std::string out = "  worst ms per 0.5 s:";
    for (const auto& [slot, ms] : worst) out += " " + std::to_string(static_cast<int>(ms));
    return out + "\n";
  }

 private:
  const bool keep_timeline_ = std::getenv("BENCH_TIMELINE") != nullptr;
  std::mutex mu_;
  std::vector<double> latencies_ms_;
  std::vector<std::pair<std::int64_t, double>> timeline_, taken_timeline_;  // (scheduled send µs, latency ms)
  std::unique_ptr<http::Server> server_;
};

// Where the time goes: a plain NATS subscriber notes when each uplink was stored by ingest
// (dm.device.*.up) and when its delivery job was queued by the orchestrator
// (dm.work.dispatch.>), each minus the uplink's scheduled send time.
class StageTap {
 public:
  StageTap() : stored_("dm.device.*.up"), queued_("dm.work.dispatch.>") {}
  std::string report() {
    return "  webhook -> stored in JetStream ms: " + stored_.report() +
           "\n  webhook -> delivery job queued ms: " + queued_.report() + "\n";
  }

 private:
  struct Tap {
    explicit Tap(const std::string& subject) {
      auto c = bus::Connection::connect({.url = stack().nats().url(), .name = "bench-stage-tap"});
      REQUIRE(c.ok());
      conn = std::move(c).value();
      auto s = conn->subscribe(subject, "", [this](bus::Message&& m) {
        const auto now = unix_us();
        std::lock_guard lock(mu);
        if (!m.header(contract::kJobBatchHeader)) {
          if (auto ms = ms_since_sent(m.data, now)) latencies_ms.push_back(*ms);
          return;
        }
        std::string inflated;  // a batch of delivery jobs, maybe compressed
        auto framing = contract::batch_framing(m.data, m.header(contract::kBatchEncodingHeader), inflated);
        if (!framing) return;
        for (const auto& job : contract::read_batch(*framing))
          if (auto ms = ms_since_sent(job.body, now)) latencies_ms.push_back(*ms);
      });
      REQUIRE(s.ok());
      sub = std::move(s).value();
    }
    std::shared_ptr<bus::Connection> conn;
    std::unique_ptr<bus::Subscription> sub;
    std::mutex mu;
    std::vector<double> latencies_ms;
    std::string report() {
      std::lock_guard lock(mu);
      auto n = latencies_ms.size();
      return percentiles(std::exchange(latencies_ms, {})) + " (" + std::to_string(n) + ")";
    }
  };
  Tap stored_, queued_;
};

// Posts `total` uplinks at `rate` per second, at most `connections` at a time (dm_load_gen's
// offer: one I/O thread, so the generator leaves the two cores to the stack); each uplink's
// object carries its scheduled send time. Returns how many the webhook accepted.
std::int64_t offer(int rate, int total, int connections, const char* eui_format, int devices, int run) {
  tools::OfferOptions options{
      .url = stack().url("ingest") + "/api/v1/ingest/chirpstack?event=up",
      .headers = {{"Authorization", "Bearer " + kIngestSecret}, {"Content-Type", "application/json"}},
      .rate = static_cast<double>(rate),
      .duration = std::chrono::hours(1),
      .max_requests = static_cast<std::uint64_t>(total),
      .in_flight = connections};
  auto result = tools::offer(options, [&](std::uint64_t n, std::chrono::system_clock::time_point scheduled) {
    char eui[17];
    std::snprintf(eui, sizeof eui, eui_format, static_cast<int>(n % static_cast<std::uint64_t>(devices)));
    const auto sent_us = std::chrono::duration_cast<std::chrono::microseconds>(scheduled.time_since_epoch()).count();
    std::string object = R"({"temperature":21.5,"sent_us":)" + std::to_string(sent_us) + "}";
    return uplink(eui, "lat-" + std::to_string(run) + "-" + std::to_string(n) + "-" + eui, static_cast<int>(n) + 1,
                  object);
  });
  return static_cast<std::int64_t>(result.ok);
}

}  // namespace

TEST_CASE("flow throughput") {
  const int requests = env_int("BENCH_REQUESTS", 20000);
  const int rate = env_int("BENCH_RATE", 0);
  const int runs = env_int("BENCH_RUNS", 3);
  const int devices = 100;
  Sink sink;
  create_label_flow(labelled_devices("bench", "70b3d5%010x", devices), kBenchFunction, sink.url());

  std::vector<double> accept_rates, flow_rates, delivery_rates;
  double done_runs = 0, delivered = 0;
  for (int run = 0; run < runs; ++run) {
    auto t0 = std::chrono::steady_clock::now();
    std::string cmd = testing::binary_dir() + "/tools/dm-load --url '" + stack().url("ingest") +
                      "/api/v1/ingest/chirpstack?event=up' --connections 128 --devices 100 --secret " + kIngestSecret +
                      " --requests " + std::to_string(requests) + " --duration 600" +
                      (rate > 0 ? " --rate " + std::to_string(rate) : "");
    auto load = testing::run_command(cmd);
    auto t_accepted = std::chrono::steady_clock::now();
    INFO(load.output);
    REQUIRE(load.exit_code == 0);
    done_runs += requests;
    delivered += requests;
    REQUIRE(
        eventually([&] { return orchestrator_metric("dm_orchestrator_runs_total{status=\"success\"}") >= done_runs; },
                   std::chrono::seconds(600)));
    auto t_runs = std::chrono::steady_clock::now();
    REQUIRE(eventually([&] { return sink.stat("received") >= delivered; }, std::chrono::seconds(600)));
    auto t_delivered = std::chrono::steady_clock::now();
    auto secs = [&](auto t) { return std::chrono::duration<double>(t - t0).count(); };
    accept_rates.push_back(requests / secs(t_accepted));
    flow_rates.push_back(requests / secs(t_runs));
    delivery_rates.push_back(requests / secs(t_delivered));
    std::printf("run %d: %d uplinks; accepted %.0f/s; flow runs recorded %.0f/s; delivered %.0f/s\n%s\n", run + 1,
                requests, accept_rates.back(), flow_rates.back(), delivery_rates.back(), load.output.c_str());
  }
  std::printf("median: accepted %.0f/s, flow runs recorded %.0f/s, delivered %.0f/s\n", median(accept_rates),
              median(flow_rates), median(delivery_rates));
}

TEST_CASE("flow latency at a fixed offered rate", "[.][latency]") {
  const int rate = env_int("BENCH_RATE", 1000);
  const int seconds = env_int("BENCH_SECONDS", 30);
  const int runs = env_int("BENCH_RUNS", 1);
  const int devices = 100;
  const char* eui_format = "70b3d6%010x";
  LatencyReceiver receiver;
  create_label_flow(
      labelled_devices("bench-latency", eui_format, devices),
      "function f(m) { return {temperature: m.data.temperature, dev_eui: m.dev_eui, sent_us: m.data.sent_us}; }",
      receiver.url());

  // Each webhook is one request at a time on its connection, as ChirpStack's tasks post them,
  // so enough of them to keep 40 ms of the rate in flight (BENCH_CONNECTIONS): ingest answers a
  // webhook only once its batch is stored, up to INGEST_BATCH_LINGER later.
  const int connections = env_int("BENCH_CONNECTIONS", std::max(16, rate / 25));
  // PostgreSQL's WAL as in a cluster that has run a while (BENCH_WAL_WARMUP MB, 0: a new one).
  if (const int wal_mb = env_int("BENCH_WAL_WARMUP", 2048); wal_mb > 0) stack().pg().warm_wal(wal_mb);
  // Warm-up (connections, caches, JIT): two seconds at the rate, not measured.
  auto warm = offer(rate, rate * 2, connections, eui_format, devices, 0);
  REQUIRE(eventually([&] { return static_cast<std::int64_t>(receiver.count()) >= warm; }, std::chrono::seconds(120)));
  receiver.take();

  for (int run = 1; run <= runs; ++run) {
    const int total = rate * seconds;
    StageTap stages;
    bench::ProcStats procs(stack().pg().port());
    procs.start();
    auto t0 = std::chrono::steady_clock::now();
    auto accepted = offer(rate, total, connections, eui_format, devices, run);
    double send_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bool all =
        eventually([&] { return static_cast<std::int64_t>(receiver.count()) >= accepted; }, std::chrono::seconds(300));
    procs.stop();
    auto ms = receiver.take();
    std::printf(
        "latency run %d: offered %d/s for %ds (sent in %.1f s), accepted %lld, delivered %zu%s\n"
        "  webhook -> delivery ms: %s\n%s%s%s",
        run, rate, seconds, send_s, static_cast<long long>(accepted), ms.size(), all ? "" : " (NOT ALL)",
        percentiles(ms).c_str(), stages.report().c_str(), receiver.timeline().c_str(), procs.report().c_str());
    std::fflush(stdout);
    CHECK(all);
  }
}

TEST_CASE("flow backlog drain rate", "[.][backlog]") {
  const int requests = env_int("BENCH_REQUESTS", 20000);
  const int runs = env_int("BENCH_RUNS", 3);
  const int devices = 100;
  Sink sink;
  create_label_flow(labelled_devices("bench-backlog", "70b3d7%010x", devices), kBenchFunction, sink.url());

  std::vector<double> flow_rates, delivery_rates;
  std::int64_t delivered = 0;
  for (int run = 1; run <= runs; ++run) {
    stack().stop("flow-orchestrator");
    auto load = testing::run_command(testing::binary_dir() + "/tools/dm-load --url '" + stack().url("ingest") +
                                     "/api/v1/ingest/chirpstack?event=up' --connections 16 --devices 100 "
                                     "--dev-eui-prefix 70b3d7 --secret " +
                                     kIngestSecret + " --requests " + std::to_string(requests) + " --duration 600");
    INFO(load.output);
    REQUIRE(load.exit_code == 0);
    bench::ProcStats procs(stack().pg().port());
    procs.start();
    auto t0 = std::chrono::steady_clock::now();
    stack().start("flow-orchestrator");  // a new process: its counters start at zero
    REQUIRE(
        eventually([&] { return orchestrator_metric("dm_orchestrator_runs_total{status=\"success\"}") >= requests; },
                   std::chrono::seconds(600)));
    auto t_runs = std::chrono::steady_clock::now();
    delivered += requests;
    REQUIRE(eventually([&] { return sink.stat("received") >= delivered; }, std::chrono::seconds(600)));
    auto t_delivered = std::chrono::steady_clock::now();
    procs.stop();
    auto secs = [&](auto t) { return std::chrono::duration<double>(t - t0).count(); };
    flow_rates.push_back(requests / secs(t_runs));
    delivery_rates.push_back(requests / secs(t_delivered));
    std::printf(
        "backlog run %d: %d uplinks waiting; recorded %.0f/s, delivered %.0f/s (from the orchestrator's start)\n%s",
        run, requests, flow_rates.back(), delivery_rates.back(), procs.report().c_str());
    std::fflush(stdout);
  }
  std::printf("backlog median: recorded %.0f/s, delivered %.0f/s\n", median(flow_rates), median(delivery_rates));
}
