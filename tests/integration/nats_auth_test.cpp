// deploy/local's NATS is not an open back door, and identity on the bus is the NATS user:
// the local stack (deploy/local/up, every service) on free ports in a temporary data folder,
// attacked with the credentials of one service at a time (as someone who took over that
// service would): no client without (or with wrong) credentials connects; nobody reads another
// service's replies or forges them; RPC routes answer only the service each is for, whatever
// headers claim; services cannot create, purge or delete streams; the tap user reads taps only.
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "dm/bus/connection.hpp"
#include "dm/json/json.hpp"
#include "dm/testing/testing.hpp"

namespace {
using namespace std::chrono_literals;

struct LocalInfra {
  dm::testing::TempDir dir{"dm-nats-auth"};
  std::string env;
  int nats_port = dm::testing::free_port();

  LocalInfra() {
    env = "DM_DATA_DIR=" + dir.path() + "/data REPLICAS=1 READY_TIMEOUT=90 NATS_PORT=" + std::to_string(nats_port) +
          " NATS_HTTP_PORT=" + std::to_string(dm::testing::free_port()) +
          " PG_PORT=" + std::to_string(dm::testing::free_port()) +
          " MQTT_PORT=" + std::to_string(dm::testing::free_port());
    for (const char* port :
         {"API_PORT", "INGEST_PORT", "REGISTRY_PORT", "ORCHESTRATOR_PORT", "RUNNER_PORT", "DISPATCHER_PORT"})
      env += std::string(" ") + port + "=" + std::to_string(dm::testing::free_port());
    auto r = dm::testing::run_command("env " + env + " " + dm::testing::source_dir() + "/deploy/local/up");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  ~LocalInfra() {
    dm::testing::run_command("env " + env + " " + dm::testing::source_dir() + "/deploy/local/down --purge");
  }

  std::string password_of(const std::string& user) const {
    bool own = user == "tap" || user == "provision";
    std::ifstream f(dir.path() + "/data/secrets/" + (own ? "nats-" + user : user) + ".env");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("NATS_PASSWORD=", 0) == 0) return line.substr(14);
    }
    return {};
  }

  // `inbox` empty: the user's own inbox prefix (_INBOX.<user>), as its service has.
  std::shared_ptr<dm::bus::Connection> connect(const std::string& user, const std::string& password,
                                               std::string inbox = {}) const {
    dm::bus::Options o;
    o.url = "nats://127.0.0.1:" + std::to_string(nats_port);
    o.name = "nats-auth-test";
    o.user = user;
    o.password = password;
    o.inbox_prefix = inbox.empty() && !user.empty() ? "_INBOX." + user : inbox;
    auto c = dm::bus::Connection::connect(o);
    REQUIRE(c.ok());
    return std::move(c).value();
  }
};

bool eventually_connected(dm::bus::Connection& c, std::chrono::milliseconds within) {
  return dm::testing::eventually([&] { return c.connected(); }, within);
}

struct Inbox {
  std::mutex mutex;
  std::set<std::string> subjects;
  void add(const std::string& s) {
    std::lock_guard lock(mutex);
    subjects.insert(s);
  }
  bool has(const std::string& s) {
    std::lock_guard lock(mutex);
    return subjects.count(s) > 0;
  }
};
}  // namespace

LocalInfra& infra() {
  static LocalInfra i;
  return i;
}

// One RPC request as `conn`'s user to `owner`, sent on `subject` (the caller's own, or one it
// tries to pose on).
dm::Result<dm::bus::Message> rpc(dm::bus::Connection& conn, const std::string& subject, const std::string& method,
                                 const std::string& target, const std::string& body = {}, dm::bus::Headers extra = {}) {
  dm::bus::Headers h{{"Dm-Method", method}, {"Dm-Target", target}, {"Content-Type", "application/json"}};
  for (auto& e : extra) h.push_back(std::move(e));
  return conn.request(subject, body, 5s, h);
}

std::string status_of(const dm::Result<dm::bus::Message>& r) {
  if (!r) return "error: " + r.error().message;
  return r->header("Dm-Status").value_or("?");
}

TEST_CASE("deploy/local NATS: credentials required, permissions enforced") {
  LocalInfra& infra = ::infra();
  REQUIRE_FALSE(infra.password_of("registry").empty());

  auto anonymous = infra.connect("", "");
  auto wrong = infra.connect("registry", "not-the-password");
  auto registry = infra.connect("registry", infra.password_of("registry"));
  auto ingest = infra.connect("ingest", infra.password_of("ingest"));
  auto gateway = infra.connect("gateway", infra.password_of("gateway"));
  auto tap = infra.connect("tap", infra.password_of("tap"));
  REQUIRE(eventually_connected(*registry, 5s));
  REQUIRE(eventually_connected(*ingest, 5s));
  REQUIRE(eventually_connected(*gateway, 5s));
  REQUIRE(eventually_connected(*tap, 5s));
  CHECK_FALSE(eventually_connected(*anonymous, 1500ms));
  CHECK_FALSE(eventually_connected(*wrong, 500ms));

  // The tap user follows the documented taps.
  Inbox seen;
  auto on = [&seen](dm::bus::Message&& m) { seen.add(std::string(m.subject)); };
  auto s1 = tap->subscribe("dm.device.>", "", on);
  auto s2 = tap->subscribe("dm.registry.changed.>", "", on);
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  // The registry tries to listen in on ingest's RPC subject: not allowed.
  Inbox stolen;
  auto s3 = registry->subscribe("dm.rpc.ingest.*", "",
                                [&stolen](dm::bus::Message&& m) { stolen.add(std::string(m.subject)); });
  REQUIRE(tap->flush(2s).ok());
  (void)registry->flush(2s);

  // Allowed publishes arrive...
  REQUIRE(ingest->publish("dm.device.0000000000000002.up", "{}").ok());
  REQUIRE(registry->publish("dm.registry.changed.label", "{}").ok());
  // ...the registry publishing a device event, or the tap user publishing anything, do not.
  (void)registry->publish("dm.device.0000000000000001.up", "{}");
  (void)tap->publish("dm.registry.changed.device", "{}");
  (void)gateway->publish("dm.rpc.ingest.flow-orchestrator", "{}");  // posing as another caller
  (void)ingest->flush(2s);
  (void)registry->flush(2s);
  (void)tap->flush(2s);
  (void)gateway->flush(2s);

  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline &&
         !(seen.has("dm.device.0000000000000002.up") && seen.has("dm.registry.changed.label"))) {
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(300ms);  // time for anything that should not arrive
  CHECK(seen.has("dm.device.0000000000000002.up"));
  CHECK(seen.has("dm.registry.changed.label"));
  CHECK_FALSE(seen.has("dm.device.0000000000000001.up"));
  CHECK_FALSE(seen.has("dm.registry.changed.device"));
  CHECK_FALSE(stolen.has("dm.rpc.ingest.flow-orchestrator"));
}

TEST_CASE("identity on the bus: callers are who their subject says, and reach only their routes") {
  auto& in = infra();
  auto gateway = in.connect("gateway", in.password_of("gateway"));
  auto runner = in.connect("function-runner", in.password_of("function-runner"));
  auto ingest = in.connect("ingest", in.password_of("ingest"));
  auto dispatcher = in.connect("integration-dispatcher", in.password_of("integration-dispatcher"));
  for (auto* c : {gateway.get(), runner.get(), ingest.get(), dispatcher.get()}) REQUIRE(eventually_connected(*c, 5s));
  // An integration with a secret header, made as an admin through the gateway's subject.
  auto made = rpc(*gateway, "dm.rpc.registry.gateway", "POST", "/api/v1/integrations",
                  R"({"name":"bus-attack","type":"http","config":{"url":"https://example.com/in",)"
                  R"("headers":{"Authorization":"Bearer top-secret-token"}}})",
                  {{"Dm-User-Id", "00000000-0000-0000-0000-000000000001"}, {"Dm-Role", "admin"}});
  REQUIRE(status_of(made) == "201");
  auto doc = dm::json::parse(made->data);
  REQUIRE(doc.ok());
  std::string id(dm::json::view((*doc)["id"]));

  // The runner (the service that runs untrusted code) claims to be a viewer — or an admin —
  // on its own subject: the public API is the gateway's alone.
  auto label = rpc(*runner, "dm.rpc.registry.function-runner", "POST", "/api/v1/labels", R"({"name":"evil"})",
                   {{"Dm-Role", "admin"}, {"Dm-User-Id", "00000000-0000-0000-0000-000000000001"}});
  CHECK(status_of(label) == "403");
  // On the gateway's subject it cannot even send: NATS refuses the publish (no answer).
  auto posing =
      rpc(*runner, "dm.rpc.registry.gateway", "POST", "/api/v1/labels", R"({"name":"evil"})", {{"Dm-Role", "admin"}});
  CHECK_FALSE(posing.ok());
  // Decrypted secrets: the dispatcher's route alone.
  CHECK(status_of(rpc(*ingest, "dm.rpc.registry.ingest", "GET", "/internal/v1/integrations/" + id)) == "403");
  CHECK(status_of(rpc(*runner, "dm.rpc.registry.function-runner", "GET", "/internal/v1/integrations/" + id)) == "403");
  auto secret = rpc(*dispatcher, "dm.rpc.registry.integration-dispatcher", "GET", "/internal/v1/integrations/" + id);
  REQUIRE(status_of(secret) == "200");
  CHECK(secret->data.find("top-secret-token") != std::string::npos);
  // The gateway, posing as the dispatcher, cannot publish there either.
  CHECK_FALSE(rpc(*gateway, "dm.rpc.registry.integration-dispatcher", "GET", "/internal/v1/integrations/" + id).ok());

  // Replies are private: the tap user, or a service, listening on replies hears nothing of the
  // registry's answer to the dispatcher (the decrypted secret).
  auto tap = in.connect("tap", in.password_of("tap"));
  REQUIRE(eventually_connected(*tap, 5s));
  std::atomic<int> overheard{0};
  auto count = [&overheard](dm::bus::Message&&) { ++overheard; };
  auto t1 = tap->subscribe("_INBOX.>", "", count);
  auto t2 = ingest->subscribe("_INBOX.integration-dispatcher.>", "", count);
  auto t3 = runner->subscribe(">", "", count);
  (void)tap->flush(2s);
  (void)ingest->flush(2s);
  (void)runner->flush(2s);
  REQUIRE(status_of(rpc(*dispatcher, "dm.rpc.registry.integration-dispatcher", "GET",
                        "/internal/v1/integrations/" + id)) == "200");
  std::this_thread::sleep_for(300ms);  // time for anything that should not arrive
  CHECK(overheard == 0);
  // Nor can a service forge a reply into another's inbox.
  std::atomic<int> forged{0};
  auto own =
      dispatcher->subscribe("_INBOX.integration-dispatcher.forged", "", [&forged](dm::bus::Message&&) { ++forged; });
  (void)dispatcher->flush(2s);
  (void)ingest->publish("_INBOX.integration-dispatcher.forged", "{}");
  (void)ingest->flush(2s);
  std::this_thread::sleep_for(300ms);
  CHECK(forged == 0);
}

TEST_CASE("streams are provisioning's: services cannot create, purge or delete them") {
  auto& in = infra();
  auto ingest = in.connect("ingest", in.password_of("ingest"));
  auto orchestrator = in.connect("flow-orchestrator", in.password_of("flow-orchestrator"));
  auto provision = in.connect("provision", in.password_of("provision"));
  for (auto* c : {ingest.get(), orchestrator.get(), provision.get()}) REQUIRE(eventually_connected(*c, 5s));
  // The JetStream API answers nothing to a request NATS did not let through.
  CHECK_FALSE(ingest->request("$JS.API.STREAM.PURGE.DM_DEVICE_EVENTS", "{}", 2s).ok());
  CHECK_FALSE(orchestrator->jetstream().delete_stream("DM_DISPATCH").ok());
  CHECK_FALSE(orchestrator->jetstream().ensure_stream({.name = "EVIL", .subjects = {"evil.>"}}).ok());
  CHECK_FALSE(ingest->request("$JS.API.CONSUMER.DELETE.DM_DEVICE_EVENTS.flow-orchestrator", "{}", 2s).ok());
  // Both streams are still there, with their messages; provisioning sees them.
  auto events = provision->jetstream().stream_state("DM_DEVICE_EVENTS");
  REQUIRE(events.ok());
  auto jobs = provision->jetstream().stream_state("DM_DISPATCH");
  REQUIRE(jobs.ok());
  CHECK(jobs->retention == dm::bus::Retention::work_queue);
  CHECK(provision->jetstream().consumer_state("DM_DEVICE_EVENTS", "flow-orchestrator").ok());
  // Only ingest stores device events: the orchestrator's batch is refused, ingest's is stored.
  CHECK_FALSE(orchestrator->jetstream().publish("dm.events.up", "", "forged", 2s).ok());
  CHECK(ingest->jetstream().publish("dm.events.up", "", "empty", 2s).ok());
  auto after = provision->jetstream().stream_state("DM_DEVICE_EVENTS");
  REQUIRE(after.ok());
  CHECK(after->messages == events->messages + 1);
}
