// Flow throughput benchmark (not a ctest test): a whole stack, 100 devices with label "bench",
// one flow label → function → HTTP integration to dm-sink, then dm-load posts N uplinks at a
// rate; measured: webhook acceptance, time until every flow run is recorded and every
// delivery received. Runs BENCH_RUNS times (default 3) and prints each run and the medians.
//   build-x/services/flow-orchestrator/dm-orchestrator-bench   (env BENCH_REQUESTS, BENCH_RATE, BENCH_RUNS)
#include <algorithm>
#include <cstdlib>

#include "flow_fixture.hpp"

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

}  // namespace

TEST_CASE("flow throughput") {
  const int requests = env_int("BENCH_REQUESTS", 20000);
  const int rate = env_int("BENCH_RATE", 0);
  const int runs = env_int("BENCH_RUNS", 3);
  const int devices = 100;
  Sink sink;
  auto label = created(call("POST", "/api/v1/labels", R"({"name":"bench"})"));
  REQUIRE(after_device_reload([&] {
    for (int i = 0; i < devices; ++i) {
      char eui[17];
      std::snprintf(eui, sizeof eui, "70b3d5%010x", i);
      auto id = create_device(eui);
      REQUIRE(call("POST", "/api/v1/labels/" + label + "/devices/" + id).status == 200);
    }
  }));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the last device change land in the view
  auto fn = create_function("function f(m) { return {temperature: m.data.temperature, dev_eui: m.dev_eui}; }");
  auto integration = create_http_integration(sink.url());
  create_flow({{"l", "label", label, ""}, {"f", "function", fn, ""}, {"i", "integration", integration, ""}},
              {{"l", "f"}, {"f", "i"}});
  REQUIRE(view_has_flows());

  std::vector<double> accept_rates, flow_rates, delivery_rates;
  double done_runs = 0, delivered = 0;
  for (int run = 0; run < runs; ++run) {
    auto t0 = std::chrono::steady_clock::now();
    std::string cmd = testing::binary_dir() + "/tools/dm-load --url '" + stack().url("ingest") +
                      "/api/v1/ingest/chirpstack?event=up' --connections 16 --devices 100 --secret " + kIngestSecret +
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
