// dm-load: posts ChirpStack v4 uplinks (a unique deduplicationId each) to a webhook at a
// fixed rate or as fast as possible, over keep-alive connections, and reports the rate
// achieved and latency percentiles. Latency is measured from each request's scheduled
// send time, so a stalled server cannot hide its stall (no coordinated omission).
//
//   dm-load --url 'http://127.0.0.1:8001/api/v1/ingest/chirpstack?event=up'
//           --rate 5000 --duration 30 --connections 32 --devices 100 --secret S [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "dm/http/client.hpp"
#include "offer.hpp"
#include "uplink.hpp"

namespace {

struct Args {
  std::string url;
  double rate = 0;  // requests per second in total; 0 = as fast as possible
  double duration = 10;
  int connections = 16;
  std::uint32_t devices = 100;
  std::string prefix = "70b3d5";
  std::string secret;
  std::uint64_t max_requests = 0;  // 0 = no limit besides duration
  bool json = false;
};

void usage() {
  std::fprintf(stderr,
               "usage: dm-load --url URL [--rate N] [--duration SECONDS] [--connections N] [--devices N]\n"
               "               [--dev-eui-prefix HEX] [--secret S] [--requests N] [--json]\n");
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (k == "--url")
      a.url = next();
    else if (k == "--rate")
      a.rate = std::stod(next());
    else if (k == "--duration")
      a.duration = std::stod(next());
    else if (k == "--connections")
      a.connections = std::stoi(next());
    else if (k == "--devices")
      a.devices = static_cast<std::uint32_t>(std::stoul(next()));
    else if (k == "--dev-eui-prefix")
      a.prefix = next();
    else if (k == "--secret")
      a.secret = next();
    else if (k == "--requests")
      a.max_requests = std::stoull(next());
    else if (k == "--json")
      a.json = true;
    else
      usage();
  }
  if (a.url.empty() || a.connections < 1 || a.devices < 1) usage();
  return a;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t idx = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(idx), v.end());
  return v[idx];
}

// Rate, latency percentiles and status counts, as one JSON line or as text.
void report(dm::tools::OfferResult& t, bool json) {
  const double elapsed = t.seconds;
  auto& all = t.latencies_ms;
  const auto ok = t.ok;
  double p50 = percentile(all, 50), p90 = percentile(all, 90), p99 = percentile(all, 99);
  double max = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  std::string codes;
  for (auto [s, n] : t.statuses)
    codes += (codes.empty() ? "" : ",") + std::string("\"") + std::to_string(s) + "\":" + std::to_string(n);
  if (json) {
    std::printf(
        "{\"requests\":%zu,\"ok\":%llu,\"seconds\":%.3f,\"rate\":%.1f,\"ok_rate\":%.1f,\"p50_ms\":%.3f,"
        "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"status\":{%s}}\n",
        all.size(), static_cast<unsigned long long>(ok), elapsed, static_cast<double>(all.size()) / elapsed,
        static_cast<double>(ok) / elapsed, p50, p90, p99, max, codes.c_str());
  } else {
    std::printf("requests %zu (2xx %llu) in %.2f s: %.0f req/s (2xx %.0f/s)\n", all.size(),
                static_cast<unsigned long long>(ok), elapsed, static_cast<double>(all.size()) / elapsed,
                static_cast<double>(ok) / elapsed);
    std::printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", p50, p90, p99, max);
    std::printf("status: {%s}\n", codes.c_str());
  }
  if (!t.last_error.empty()) std::fprintf(stderr, "last transport error: %s\n", t.last_error.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  auto url = dm::http::parse_url(args.url);
  if (!url) {
    std::fprintf(stderr, "dm-load: %s\n", url.error().message.c_str());
    return 2;
  }
  dm::tools::OfferOptions options{.url = args.url,
                                  .rate = args.rate,
                                  .duration = std::chrono::duration<double>(args.duration),
                                  .max_requests = args.max_requests,
                                  .in_flight = args.connections};
  options.headers.set("Content-Type", "application/json");
  if (!args.secret.empty()) options.headers.set("Authorization", "Bearer " + args.secret);
  auto totals = dm::tools::offer(options, [&](std::uint64_t n, auto) {
    const auto device = static_cast<std::uint32_t>(n % args.devices);
    return dm::tools::make_uplink(n, device, args.prefix, 15.0 + static_cast<double>(n % 300) / 10.0);
  });
  report(totals, args.json);
  return totals.ok > 0 ? 0 : 1;
}
