#include "dm/metrics/metrics.hpp"

#include <catch2/catch.hpp>
#include <thread>

TEST_CASE("metrics render in Prometheus text format") {
  dm::metrics::Registry r;
  auto& c = r.counter("dm_requests_total", "Requests.", "status=\"2xx\"");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) c.inc();
    });
  for (auto& t : threads) t.join();
  REQUIRE(&r.counter("dm_requests_total", "Requests.", "status=\"2xx\"") == &c);
  r.gauge("dm_queue_depth", "Depth.").set(3.5);
  auto& h = r.histogram("dm_latency_seconds", "Latency.", {}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  dm::metrics::add_process_metrics(r);
  auto text = r.render();
  REQUIRE(text.find("# TYPE dm_requests_total counter\ndm_requests_total{status=\"2xx\"} 4000\n") != std::string::npos);
  REQUIRE(text.find("dm_queue_depth 3.5\n") != std::string::npos);
  REQUIRE(text.find("dm_latency_seconds_bucket{le=\"0.1\"} 1\n") != std::string::npos);
  REQUIRE(text.find("dm_latency_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  REQUIRE(text.find("dm_latency_seconds_count 3\n") != std::string::npos);
  REQUIRE(text.find("process_resident_memory_bytes ") != std::string::npos);
  REQUIRE(text.find("process_resident_memory_bytes 0\n") == std::string::npos);
}
