// dm-sink: an HTTP receiver for benchmarks and delivery tests. Answers every POST/PUT/
// PATCH/GET under / with 200 (or a configured failure for the first N requests), counts
// what it received, and remembers Idempotency-Key headers so duplicates can be counted.
//
//   dm-sink --port 9000 [--host 127.0.0.1] [--fail-first N] [--fail-status 503] [--delay-ms D] [--threads N]
//   GET  /_sink/stats  -> {"received":N,"failed":F,"unique_keys":U,"duplicates":D,"in_flight":I,
//                          "max_in_flight":M,"last_body":"..."}
//   POST /_sink/reset                 every count back to 0
//   POST /_sink/max-in-flight/reset   only the highest number of requests handled at once
//   POST /_sink/fail/{n}              fail the next n requests (0: answer 200 from now on)
// With --delay-ms each request holds a server thread for the delay: --threads bounds how many
// requests it handles at once (more wait for a thread, as with a saturated real server).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "dm/core/shutdown.hpp"
#include "dm/http/router.hpp"
#include "dm/http/server.hpp"
#include "dm/json/json.hpp"

namespace {

struct State {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::int64_t> fail_first{0};
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> max_in_flight{0};
  int fail_status = 503;
  int delay_ms = 0;
  std::mutex mutex;
  std::unordered_set<std::string> keys;
  std::uint64_t duplicates = 0;
  std::string last_body;
};

// Options as "--name value" pairs; false (said on stderr) for an unknown one.
bool parse_args(int argc, char** argv, dm::http::ServerOptions& opts, State& state) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port")
      opts.port = std::atoi(v.c_str());
    else if (k == "--host")
      opts.host = v;
    else if (k == "--fail-first")
      state.fail_first = std::atoll(v.c_str());
    else if (k == "--fail-status")
      state.fail_status = std::atoi(v.c_str());
    else if (k == "--delay-ms")
      state.delay_ms = std::atoi(v.c_str());
    else if (k == "--threads")
      opts.threads = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return false;
    }
  }
  return true;
}

// /_sink/...: the counts, and what tests and benchmarks change between runs.
void add_control_routes(dm::http::Router& router, const std::shared_ptr<State>& state) {
  router.add_sync("GET", "/_sink/stats", [state](const dm::http::Request&) {
    std::lock_guard lock(state->mutex);
    dm::json::Writer w;
    w.start_object()
        .field("received", static_cast<std::int64_t>(state->received.load()))
        .field("failed", static_cast<std::int64_t>(state->failed.load()))
        .field("unique_keys", static_cast<std::int64_t>(state->keys.size()))
        .field("duplicates", static_cast<std::int64_t>(state->duplicates))
        .field("in_flight", state->in_flight.load())
        .field("max_in_flight", state->max_in_flight.load())
        .field("last_body", state->last_body)
        .end_object();
    return dm::http::Response::json(200, w.take());
  });
  router.add_sync("POST", "/_sink/reset", [state](const dm::http::Request&) {
    std::lock_guard lock(state->mutex);
    state->received = 0;
    state->failed = 0;
    state->keys.clear();
    state->duplicates = 0;
    state->max_in_flight = 0;
    return dm::http::Response::json(200, "{}");
  });
  router.add_sync("POST", "/_sink/max-in-flight/reset", [state](const dm::http::Request&) {
    state->max_in_flight = state->in_flight.load();
    return dm::http::Response::json(200, "{}");
  });
  router.add_sync("POST", "/_sink/fail/{n}", [state](const dm::http::Request& req) {
    state->fail_first = std::atoll(req.params.at("n").c_str());
    return dm::http::Response::json(200, "{}");
  });
}

// One delivery: after the delay, an injected failure or 200, counted either way.
dm::http::Response handle(State& state, const dm::http::Request& req) {
  if (state.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(state.delay_ms));
  if (state.fail_first.fetch_sub(1) > 0) {
    state.failed++;
    return dm::http::Response::json(state.fail_status, R"({"error":"injected failure"})");
  }
  state.received++;
  auto key = req.header("Idempotency-Key");
  std::lock_guard lock(state.mutex);
  if (key && !state.keys.insert(*key).second) state.duplicates++;
  state.last_body = req.body.substr(0, 4096);
  return dm::http::Response::json(200, R"({"ok":true})");
}

// Every other path up to three segments deep receives deliveries.
void add_receive_routes(dm::http::Router& router, const std::shared_ptr<State>& state) {
  auto receive = [state](const dm::http::Request& req) {
    auto now = ++state->in_flight;
    for (auto seen = state->max_in_flight.load();
         now > seen && !state->max_in_flight.compare_exchange_weak(seen, now);) {
    }
    auto res = handle(*state, req);
    --state->in_flight;
    return res;
  };
  for (const char* m : {"GET", "POST", "PUT", "PATCH"}) {
    router.add_sync(m, "/", receive);
    for (const char* p : {"/{a}", "/{a}/{b}", "/{a}/{b}/{c}"}) router.add_sync(m, p, receive);
  }
}

}  // namespace

int main(int argc, char** argv) {
  dm::Shutdown::install();
  dm::http::ServerOptions opts;
  opts.host = "127.0.0.1";
  opts.port = 9000;
  opts.body_limit = 8 << 20;
  auto state = std::make_shared<State>();
  if (!parse_args(argc, argv, opts, *state)) return 2;
  auto router = std::make_shared<dm::http::Router>();
  add_control_routes(*router, state);
  add_receive_routes(*router, state);
  dm::http::Server server(opts, router);
  if (auto r = server.start(); !r) {
    std::fprintf(stderr, "dm-sink: %s\n", r.error().message.c_str());
    return 1;
  }
  std::printf("dm-sink listening on %s:%d\n", opts.host.c_str(), server.port());
  std::fflush(stdout);
  dm::Shutdown::wait();
  server.stop(std::chrono::seconds(2));
  return 0;
}
