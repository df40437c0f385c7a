#pragma once
// Offered load for benchmarks and load tests: POSTs at a fixed rate (or flat out), at most
// `in_flight` at a time, as ChirpStack's tasks post webhooks one at a time each. One I/O thread
// drives every connection (http::AsyncClient) and the caller's thread paces, so the generator
// costs a fraction of what a thread per connection did; on a two-core machine it shares the
// cores with the stack it measures. Latency is measured from each request's scheduled send
// time, so a stalled server cannot hide its stall (no coordinated omission).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dm/http/message.hpp"

namespace dm::tools {

struct OfferOptions {
  std::string url;  // where every request goes (POST)
  http::Headers headers;
  double rate = 0;                             // requests per second; 0 = as fast as `in_flight` allows
  std::chrono::duration<double> duration{10};  // no request is scheduled after it
  std::uint64_t max_requests = 0;              // 0 = as many as the duration takes
  int in_flight = 16;                          // requests under way at most (keep-alive connections)
};

struct OfferResult {
  std::vector<double> latencies_ms;       // per answered or failed request, from its scheduled time
  std::map<int, std::uint64_t> statuses;  // HTTP status → count; 0 = transport error
  std::string last_error;
  std::uint64_t ok = 0;  // 2xx answers
  double seconds = 0;    // from the first scheduled send to the last answer
};

// The body of request `n` (0, 1, …), scheduled to be sent at `scheduled`.
using BodyFor = std::function<std::string(std::uint64_t n, std::chrono::system_clock::time_point scheduled)>;

// Sends until the duration or max_requests is reached, then waits for every answer.
OfferResult offer(const OfferOptions& options, const BodyFor& body);

}  // namespace dm::tools
