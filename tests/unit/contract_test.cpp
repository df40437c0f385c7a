// The contract: subjects have the shapes proto/README.md documents, callers are read back from
// RPC subjects, and every stream's consumer filters lie inside the stream.
#include <catch2/catch.hpp>

#include "dm/contract/rpc.hpp"
#include "dm/contract/streams.hpp"
#include "dm/contract/subjects.hpp"

using namespace dm::contract;

TEST_CASE("subjects: shapes and tokens") {
  CHECK(subject::device_event("0004a30b001c0530", "up") == "dm.device.0004a30b001c0530.up");
  CHECK(subject::dev_eui_of("dm.device.0004a30b001c0530.up") == "0004a30b001c0530");
  CHECK(subject::dev_eui_of("other") == "other");
  CHECK(subject::dispatch("t-1") == "dm.work.dispatch.t-1");
  CHECK(subject::dead_letter("uplinks") == "dm.deadletter.uplinks");
  CHECK(subject::rpc(kRegistry, kIngest) == "dm.rpc.registry.ingest");
  CHECK(subject::rpc_served(kRegistry) == "dm.rpc.registry.*");
  CHECK(subject::rpc_caller("dm.rpc.registry.ingest", kRegistry) == "ingest");
  CHECK(subject::rpc_caller("dm.rpc.registry", kRegistry).empty());
  CHECK(subject::rpc_caller("dm.rpc.registry.a.b", kRegistry).empty());
  CHECK(subject::rpc_caller("dm.rpc.ingest.gateway", kRegistry).empty());
  CHECK(subject::inbox_prefix(kDispatcher) == "_INBOX.integration-dispatcher");
}

TEST_CASE("streams: discard-new limits, a work queue for jobs, consumers that never give up on their own") {
  dm::Config c;
  c.set("STREAM_REPLICAS", "3");
  c.set("ORCHESTRATOR_ACK_WAIT", "5s");
  auto s = read_stream_settings(c);
  REQUIRE(c.problems().empty());
  auto events = device_events_stream(s);
  auto jobs = dispatch_stream(s);
  CHECK(events.replicas == 3);
  CHECK(events.discard_new);
  CHECK(jobs.retention == dm::bus::Retention::work_queue);
  CHECK(jobs.max_bytes == 1LL << 30);
  auto all = consumers(s);
  REQUIRE(all.size() == 3);
  for (const auto& def : all) CHECK(def.config.max_deliver == -1);
  CHECK(all[1].config.filter_subject == subject::kUplinks);
  CHECK(all[1].config.ack_wait == std::chrono::seconds(5));
  dm::Config bad;
  bad.set("STREAM_REPLICAS", "2");
  read_stream_settings(bad);
  CHECK(bad.problems().size() == 1);
}

TEST_CASE("rpc rules: public routes for the gateway alone, each internal route for the one service needing it") {
  CHECK(rpc_allowed(kRegistry, kGateway, "POST", "/api/v1/labels"));
  CHECK_FALSE(rpc_allowed(kRegistry, kRunner, "POST", "/api/v1/labels"));
  CHECK_FALSE(rpc_allowed(kRegistry, kIngest, "GET", "/api/v1/devices"));
  CHECK(rpc_allowed(kRegistry, kDispatcher, "GET", "/internal/v1/integrations/x"));
  CHECK_FALSE(rpc_allowed(kRegistry, kIngest, "GET", "/internal/v1/integrations/x"));
  CHECK_FALSE(rpc_allowed(kRegistry, kRunner, "GET", "/internal/v1/integrations/x"));
  CHECK(rpc_allowed(kRegistry, kOrchestrator, "GET", "/internal/v1/devices"));
  CHECK_FALSE(rpc_allowed(kRegistry, kOrchestrator, "POST", "/internal/v1/devices/state"));
  CHECK(rpc_allowed(kRegistry, kIngest, "POST", "/internal/v1/devices/state"));
  CHECK_FALSE(rpc_allowed(kRegistry, kGateway, "GET", "/internal/v1/integrations/x"));
  CHECK_FALSE(rpc_allowed(kRegistry, kDispatcher, "GET", "/internal/v1/integrationsX"));
  CHECK(rpc_allowed(kRunner, kOrchestrator, "POST", "/api/v1/functions/abc/test"));
  CHECK_FALSE(rpc_allowed(kRunner, kOrchestrator, "GET", "/api/v1/functions/abc"));
  CHECK(rpc_allowed(kRunner, kRegistry, "POST", "/internal/v1/compile"));
  CHECK_FALSE(rpc_allowed(kGateway, kGateway, "GET", "/api/v1/x"));  // the gateway serves no RPC
  auto owners = rpc_owners_of(kOrchestrator);
  CHECK(owners.size() == 3);  // registry, ingest, function-runner
  CHECK(rpc_owners_of(kDispatcher) == std::vector<std::string_view>{kRegistry});
}
