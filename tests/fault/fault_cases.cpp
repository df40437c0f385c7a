// The fault cases: process deaths, signals and infrastructure outages under load. See suite.hpp
// for what each case checks and prints.
#include <signal.h>

#include <catch2/catch.hpp>
#include <random>

#include "suite.hpp"

using namespace dm;
using namespace dm::fault;
using namespace std::chrono_literals;

const Shape& dm::fault::shape() {
  static const Shape single;  // one nats-server, one process of each service, 200 uplinks/s
  return single;
}

// --- process deaths --------------------------------------------------------------------------------

TEST_CASE("kill -9 of the flow orchestrator under load", "[ci][kill]") {
  require_ok(run_case("kill-orchestrator", [] { return kill_and_restart("flow-orchestrator"); }));
}

TEST_CASE("kill -9 of the integration dispatcher under load", "[ci][kill]") {
  require_ok(run_case("kill-dispatcher", [] { return kill_and_restart("integration-dispatcher"); }));
}

TEST_CASE("kill -9 of V8 workers, five times in 12 s, under load", "[ci][kill]") {
  require_ok(run_case("kill-v8-workers", [] {
    auto t0 = Clock::now();
    std::mt19937 rng(42);
    for (int i = 0; i < 5; ++i) {
      auto workers = runner_workers();
      if (!workers.empty()) ::kill(workers[rng() % workers.size()], SIGKILL);
      std::this_thread::sleep_for(2400ms);
    }
    return seconds_since(t0);
  }));
}

TEST_CASE("kill -9 of ingest under load", "[kill]") {
  require_ok(run_case("kill-ingest", [] { return kill_and_restart("ingest"); }));
}

TEST_CASE("kill -9 of the function runner under load", "[kill]") {
  require_ok(run_case("kill-runner", [] { return kill_and_restart("function-runner"); }));
}

TEST_CASE("kill -9 of the registry under load", "[kill]") {
  require_ok(run_case("kill-registry", [] { return kill_and_restart("registry"); }));
}

TEST_CASE("kill -9 of the gateway under load", "[kill]") {
  require_ok(run_case("kill-gateway", [] { return kill_and_restart("gateway"); }));
}

TEST_CASE("SIGTERM of every service under load, one after another", "[term]") {
  require_ok(run_case("sigterm-each", [] {
    auto t0 = Clock::now();
    for (const char* s :
         {"ingest", "flow-orchestrator", "function-runner", "integration-dispatcher", "registry", "gateway"}) {
      terminate_and_restart(s);
      std::this_thread::sleep_for(1s);
    }
    return seconds_since(t0);
  }));
}

TEST_CASE("SIGSTOP of the dispatcher past its ack wait", "[stop]") {
  require_ok(run_case("sigstop-dispatcher", [] {
    auto t0 = Clock::now();
    int pid = stack().pid("integration-dispatcher");
    ::kill(pid, SIGSTOP);
    std::this_thread::sleep_for(12s);  // the ack wait is 5 s: its jobs are redelivered meanwhile
    ::kill(pid, SIGCONT);
    return seconds_since(t0);
  }));
}

// --- infrastructure outages ------------------------------------------------------------------------

double nats_down(std::chrono::seconds how_long) {
  auto t0 = Clock::now();
  stack().nats().kill9();
  std::this_thread::sleep_for(how_long);
  stack().nats().start();
  return seconds_since(t0);
}

double postgres_down(std::chrono::seconds how_long) {
  auto t0 = Clock::now();
  stack().pg().stop();
  std::this_thread::sleep_for(how_long);
  stack().pg().start();
  return seconds_since(t0);
}

TEST_CASE("PostgreSQL stopped for 10 s under load", "[ci][outage]") {
  require_ok(run_case("postgres-10s", [] { return postgres_down(10s); }));
}

TEST_CASE("PostgreSQL stopped for 60 s under load", "[outage]") {
  require_ok(run_case("postgres-60s", [] { return postgres_down(60s); }));
}

TEST_CASE("NATS killed for 10 s under load", "[outage]") {
  require_ok(run_case("nats-10s", [] { return nats_down(10s); }));
}

TEST_CASE("NATS killed for 60 s under load", "[outage]") {
  require_ok(run_case("nats-60s", [] { return nats_down(60s); }));
}

TEST_CASE("mosquitto stopped for 30 s under load (MQTT deliveries)", "[outage]") {
  require_ok(run_case(
      "mosquitto-30s",
      [] {
        auto t0 = Clock::now();
        broker().stop();
        std::this_thread::sleep_for(30s);
        broker().start();
        return seconds_since(t0);
      },
      true));
}
