#pragma once
// One whole stack per test executable: registry, gateway, ingest, function runner, dispatcher
// and the orchestrator over real NATS and PostgreSQL; uplinks posted to ingest's webhook,
// definitions created through the gateway as an admin, deliveries received by dm-sink.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/http/client.hpp"
#include "dm/json/json.hpp"
#include "dm/testing/api.hpp"
#include "dm/testing/collector.hpp"
#include "dm/testing/stack.hpp"

namespace dm::test {

inline const std::string kIngestSecret = "orchestrator-test-secret-0123";

inline testing::Stack& stack() {
  static testing::Stack s(
      {"registry", "gateway", "function-runner", "integration-dispatcher", "ingest", "flow-orchestrator"},
      {{"INGEST_SECRET", kIngestSecret},
       {"REGISTRY_OUTBOUND_ALLOW", "127.0.0.0/8"},
       {"DISPATCHER_OUTBOUND_ALLOW", "127.0.0.1"},
       {"OUTBOUND_ALLOW", "127.0.0.1"},
       {"DISPATCHER_RETRY_BASE", "200ms"},
       {"ORCHESTRATOR_RETRY_DELAY", "200ms"},
       {"ORCHESTRATOR_MAX_RETRY_DELAY", "1s"},
       {"ORCHESTRATOR_MAX_DELIVERIES", "16"},         // an uplink that cannot run gives up after ~14 s
       {"ORCHESTRATOR_LANES", "4"},                   // batches in flight at once
       {"ORCHESTRATOR_FUNCTION_TIMEOUT_MS", "3000"},  // a 1.2 s function stays well inside it
       {"RUNNER_WORKERS", "4"},                       // a slow function leaves workers for others
       {"ORCHESTRATOR_ACK_WAIT", "5s"}});             // uplinks a killed orchestrator held come back soon
  return s;
}

struct Reply {
  int status = 0;
  std::string body;
  http::Headers headers;
  json::Document json;
  std::string str(const char* key) const {
    const auto* v = json::find(json, key);
    return v && v->IsString() ? std::string(json::view(*v)) : std::string();
  }
};

inline Reply to_reply(const Result<http::ClientResponse>& r) {
  REQUIRE(r.ok());
  Reply out{r->status, r->body, r->headers, {}};
  if (auto doc = json::parse(out.body, {.max_bytes = 64 << 20, .max_depth = 128})) out.json = std::move(doc).value();
  return out;
}

// An admin's bearer token (the admin is created with dm-admin and logged in once).
inline const std::string& admin_token() {
  static const std::string token = [] {
    auto made = stack().admin_tool("create-admin admin@example.com admin admin-password-0123");
    INFO(made.output);
    REQUIRE(made.exit_code == 0);
    auto r = to_reply(http::fetch("POST", stack().url("gateway") + "/api/v1/auth/login",
                                  "username=admin&password=admin-password-0123",
                                  {{"Content-Type", "application/x-www-form-urlencoded"}}));
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.str("access_token");
  }();
  return token;
}

// REST through the gateway as an admin, on one kept-alive connection (one thread at a time).
inline Reply call(const std::string& method, const std::string& target, const std::string& body = {}) {
  static std::unique_ptr<http::Client> client = [] {
    auto c = http::Client::create(stack().url("gateway"), {.request_timeout = std::chrono::seconds(60)});
    REQUIRE(c.ok());
    return std::move(c).value();
  }();
  http::Headers h;
  h.set("Authorization", "Bearer " + admin_token());
  if (!body.empty()) h.set("Content-Type", "application/json");
  INFO(method << " " << target);
  return to_reply(client->request(method, target, body, h));
}

// The same on a fresh connection: for a second thread.
inline Reply call_once(const std::string& method, const std::string& target, const std::string& body = {}) {
  http::Headers h;
  h.set("Authorization", "Bearer " + admin_token());
  if (!body.empty()) h.set("Content-Type", "application/json");
  return to_reply(
      http::fetch(method, stack().url("gateway") + target, body, h, {.request_timeout = std::chrono::seconds(60)}));
}

inline std::string created(const Reply& r) {
  INFO(r.body);
  REQUIRE(r.status == 201);
  return r.str("id");
}

inline std::string json_string(const std::string& s) {
  json::Writer w;
  w.string(s);
  return w.take();
}

inline std::string unique(const std::string& prefix) {
  static int n = 0;
  return prefix + "-" + std::to_string(++n) + "-" + std::to_string(::getpid());
}

inline std::string new_eui() {
  static std::atomic<int> n{0};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", static_cast<unsigned>(::getpid()) & 0x0fffffffu,
                static_cast<unsigned>(0x0100 + ++n));
  return buf;
}

inline std::string create_device(const std::string& dev_eui) {
  return created(
      call("POST", "/api/v1/devices", R"({"dev_eui":")" + dev_eui + R"(","name":")" + unique("dev") + "\"}"));
}

inline std::string create_function(const std::string& code) {
  return created(
      call("POST", "/api/v1/functions", R"({"name":")" + unique("fn") + R"(","code":)" + json_string(code) + "}"));
}

inline std::string create_http_integration(const std::string& url) {
  return created(call("POST", "/api/v1/integrations",
                      R"({"name":")" + unique("int") + R"(","type":"http","config":{"url":")" + url + "\"}}"));
}

inline int& flows_created() {
  static int n = 0;
  return n;
}

// nodes: [{id, type, entity, parameters-json-or-empty}], edges: [{source, target}].
struct N {
  std::string id, type, entity, parameters;
};
inline std::string create_flow(const std::vector<N>& nodes,
                               const std::vector<std::pair<std::string, std::string>>& edges, bool enabled = true) {
  std::string body =
      R"({"name":")" + unique("flow") + R"(","enabled":)" + (enabled ? "true" : "false") + R"(,"nodes":[)";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    body += (i ? "," : "") + std::string(R"({"id":")") + n.id + R"(","type":")" + n.type + R"(","data":{"entityId":")" +
            n.entity + "\"" + (n.parameters.empty() ? "" : ",\"parameters\":" + n.parameters) + "}}";
  }
  body += R"(],"edges":[)";
  for (std::size_t i = 0; i < edges.size(); ++i) {
    body += (i ? "," : "") + std::string(R"({"id":"e)") + std::to_string(i) + R"(","source":")" + edges[i].first +
            R"(","target":")" + edges[i].second + "\"}";
  }
  body += "]}";
  auto id = created(call("POST", "/api/v1/flows", body));
  if (enabled) ++flows_created();  // view_has_flows() counts the enabled ones
  return id;
}

// A ChirpStack v4 uplink with a decoded object.
inline std::string uplink(const std::string& dev_eui, const std::string& dedup_id, int f_cnt,
                          const std::string& object) {
  return R"({"deduplicationId":")" + dedup_id +
         R"(","time":"2026-11-27T10:00:00.123456789+00:00",)"
         R"("deviceInfo":{"tenantId":"t","tenantName":"T","applicationId":"a","applicationName":"A",)"
         R"("deviceProfileId":"p","deviceProfileName":"P","deviceName":"d","devEui":")" +
         dev_eui + R"(","tags":{}},"devAddr":"00189440","dr":5,"fCnt":)" + std::to_string(f_cnt) +
         R"(,"fPort":2,"data":"AQID","object":)" + object +
         R"(,"rxInfo":[{"gatewayId":"0016c001f153a14c","rssi":-40,"snr":9.5}],"txInfo":{"frequency":868100000}})";
}

// Any ChirpStack event type (`up`, `join`, ...) to ingest's webhook.
inline Reply post_event(const std::string& event, const std::string& body) {
  static std::unique_ptr<http::Client> client = [] {
    auto c = http::Client::create(stack().url("ingest"));
    REQUIRE(c.ok());
    return std::move(c).value();
  }();
  return to_reply(
      client->request("POST", "/api/v1/ingest/chirpstack?event=" + event, body,
                      {{"Authorization", "Bearer " + kIngestSecret}, {"Content-Type", "application/json"}}));
}

inline Reply post_uplink(const std::string& body) { return post_event("up", body); }

// A metric's value from the orchestrator's /metrics (0 when absent).
inline double orchestrator_metric(const std::string& name) {
  return testing::metric_value(stack(), "flow-orchestrator", name);
}

// Waits until the orchestrator's view holds every flow this executable created.
inline bool view_has_flows() {
  double flows = flows_created();
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < until) {
    if (orchestrator_metric("dm_orchestrator_cached_flows") >= flows) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Runs `change` and waits until the orchestrator reloaded its device list after it. A reload
// already under way when the change committed does not include it (the view reloads once more
// at once): so wait until the count went up and then stayed put for a moment.
template <typename F>
bool after_device_reload(F change) {
  double before = orchestrator_metric("dm_orchestrator_device_reloads");
  change();
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  double seen = before;
  auto since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < until) {
    double now = orchestrator_metric("dm_orchestrator_device_reloads");
    if (now != seen) {
      seen = now;
      since = std::chrono::steady_clock::now();
    } else if (seen > before && std::chrono::steady_clock::now() - since > std::chrono::milliseconds(300)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

using testing::eventually;

// How many runs a flow has in history (GET /flows/{id}/history, `query` appended).
inline std::int64_t run_count(const std::string& flow_id, const std::string& query = {}) {
  auto r = call("GET", "/api/v1/flows/" + flow_id + "/history?limit=1000" + query);
  INFO(r.body);
  REQUIRE(r.status == 200);
  return static_cast<std::int64_t>(r.json.Size());
}

// dm-sink on a free port.
struct Sink {
  int port = testing::free_port();
  std::unique_ptr<testing::Process> proc;
  Sink() {
    proc = std::make_unique<testing::Process>(std::vector<std::string>{
        testing::binary_dir() + "/tools/dm-sink", "--host", "127.0.0.1", "--port", std::to_string(port)});
    REQUIRE(testing::wait_for_port(port, std::chrono::seconds(10)));
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/in"; }
  json::Document stats() const {
    auto r = http::fetch("GET", "http://127.0.0.1:" + std::to_string(port) + "/_sink/stats");
    REQUIRE(r.ok());
    auto doc = json::parse(r->body);
    REQUIRE(doc.ok());
    return std::move(doc).value();
  }
  std::int64_t stat(const char* key) const { return stats()[key].GetInt64(); }
};

// Collects messages on a NATS subject.
class Listener : public testing::MessageCollector {
 public:
  explicit Listener(const std::string& subject) : MessageCollector(stack().nats().url(), subject) {}
};

}  // namespace dm::test
