// Function history in a real stack: a row PostgreSQL refuses for its data becomes a dead
// letter while the rest of its batch is stored, and the dead-letter routes (served by the
// runner's router over dm.rpc.function-runner) list, retry and discard it; an outage keeps the
// rows, /readyz says so, and they are written once PostgreSQL is back.
#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "api_fixture.hpp"  // services/registry/tests: authenticated client over the gateway
#include "dm/bus/bus.hpp"

using namespace dm;
using namespace std::chrono_literals;
using test::Api;
using test::As;

namespace {
testing::Stack& history_stack() {
  static testing::Stack s({"registry", "gateway", "function-runner"}, {{"RUNNER_WORKERS", "1"},
                                                                       {"RUNNER_HISTORY_FLUSH_INTERVAL", "50ms"}});
  return s;
}

std::shared_ptr<bus::Connection> nats() {
  static auto c = [] {
    bus::Options o;
    o.url = history_stack().nats().url();
    auto conn = bus::Connection::connect(o);
    REQUIRE(conn.ok());
    return std::move(conn).value();
  }();
  return c;
}

template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

struct RpcReply {
  int status = 0;
  std::string body;
  json::Document json;
};

// A REST call to the runner over NATS, as the gateway forwards it.
RpcReply rpc(const std::string& method, const std::string& target) {
  auto r = nats()->request("dm.rpc.function-runner", "", 10s, {{"Dm-Method", method}, {"Dm-Target", target}});
  REQUIRE(r.ok());
  RpcReply out;
  out.status = std::stoi(r->header("Dm-Status").value_or("0"));
  out.body = r->data;
  if (auto doc = json::parse(out.body, {.max_bytes = 16u << 20}); doc) out.json = std::move(doc).value();
  return out;
}

std::string psql(const std::string& sql) {
  auto& s = history_stack();
  auto db = s.database_url("function-runner");
  auto r = s.pg().psql(db.substr(db.rfind('/') + 1), sql);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return r.output;
}

void exec(const std::string& executions) {
  auto r = nats()->request("dm.fn.exec", "{\"executions\":[" + executions + "]}", 20s);
  REQUIRE(r.ok());
  INFO(r->data);
  REQUIRE(r->data.find("\"status\":\"success\"") != std::string::npos);
}

std::string execution(const std::string& id, const std::string& fid, const std::string& input,
                      const std::string& dev_eui = "eui-1") {
  return "{\"id\":\"" + id + "\",\"function_id\":\"" + fid + "\",\"version\":1,\"input\":" + input +
         ",\"parameters\":{},\"timeout_ms\":1000,\"context\":{\"dev_eui\":\"" + dev_eui + "\"}}";
}

std::string create_function(Api& api) {
  auto r = api.post("/api/v1/functions", "{\"name\":\"" + test::unique("fn") + "\",\"code\":\"function f(m){ return m; }\"}");
  REQUIRE(r.status == 201);
  return r.str("id");
}

bool stored(const std::string& run_id) {
  return psql("SELECT count(*) FROM runner.function_runs WHERE run_id = '" + run_id + "'") == "1\n";  // psql -A -t
}

// The dead letter of `key` in the list, or null.
const json::Value* letter(const RpcReply& list, const std::string& key) {
  if (!list.json.IsArray()) return nullptr;
  for (const auto& l : list.json.GetArray())
    if (json::view(l["key"]) == key) return &l;
  return nullptr;
}
}  // namespace

TEST_CASE("a row PostgreSQL refuses is dead-lettered; the rest of its batch is stored") {
  Api api(history_stack(), As::admin);
  auto fid = create_function(api);
  // A byte that is not UTF-8 inside a JSON string: the runner takes it (the function sees
  // U+FFFD) and so does its reply, but PostgreSQL refuses the row's input document.
  exec(execution("ok-1", fid, R"({"a":1})") + "," + execution("bad-1", fid, "{\"s\":\"a\xff" "b\"}") + "," +
       execution("ok-2", fid, R"({"a":2})"));
  REQUIRE(wait_until([] { return stored("ok-1") && stored("ok-2"); }, 20s));
  RpcReply list;
  REQUIRE(wait_until(
      [&] {
        list = rpc("GET", "/api/v1/dead-letters/function-runs");
        return letter(list, "bad-1") != nullptr;
      },
      20s));
  CHECK(list.status == 200);
  CHECK_FALSE(stored("bad-1"));
  const auto* bad = letter(list, "bad-1");
  std::string error(json::view((*bad)["error"]));
  INFO(error);
  CHECK(error.find("UTF8") != std::string::npos);
  CHECK(std::string(json::view((*bad)["subject"])) == "dm.fn.exec");
  std::string id(json::view((*bad)["id"]));

  // The payload is the row as JSON, bytes and all.
  auto one = rpc("GET", "/api/v1/dead-letters/function-runs/" + id);
  REQUIRE(one.status == 200);
  CHECK(one.body.find("\"payload_base64\"") != std::string::npos);

  // Retrying it cannot help (the same bytes): it stays, with one more attempt.
  auto retried = rpc("POST", "/api/v1/dead-letters/function-runs/" + id + "/retry");
  REQUIRE(retried.status == 200);
  CHECK(retried.json["retried"].GetInt() == 0);
  CHECK(retried.json["failed"].GetInt() == 1);
  CHECK(letter(rpc("GET", "/api/v1/dead-letters/function-runs"), "bad-1") != nullptr);

  // An operator discards it.
  CHECK(rpc("DELETE", "/api/v1/dead-letters/function-runs/" + id).status == 204);
  CHECK(letter(rpc("GET", "/api/v1/dead-letters/function-runs"), "bad-1") == nullptr);
  CHECK(testing::metric_value(history_stack(), "function-runner", "dm_function_history_dead_letters_total") >= 1);
}

TEST_CASE("a retried dead letter is inserted again once the database takes it") {
  Api api(history_stack(), As::admin);
  auto fid = create_function(api);
  // A constraint that refuses one device's rows, for as long as it exists.
  psql("ALTER TABLE runner.function_runs ADD CONSTRAINT refuse_eui CHECK (dev_eui IS DISTINCT FROM 'refused-eui')");
  exec(execution("ok-3", fid, R"({"a":3})") + "," + execution("refused-1", fid, R"({"a":4})", "refused-eui"));
  REQUIRE(wait_until([] { return stored("ok-3"); }, 20s));
  RpcReply list;
  REQUIRE(wait_until(
      [&] {
        list = rpc("GET", "/api/v1/dead-letters/function-runs");
        return letter(list, "refused-1") != nullptr;
      },
      20s));
  CHECK(std::string(json::view((*letter(list, "refused-1"))["error"])).find("refuse_eui") != std::string::npos);
  CHECK_FALSE(stored("refused-1"));

  psql("ALTER TABLE runner.function_runs DROP CONSTRAINT refuse_eui");
  auto all = rpc("POST", "/api/v1/dead-letters/function-runs/retry");
  REQUIRE(all.status == 200);
  CHECK(all.json["retried"].GetInt() == 1);
  CHECK(stored("refused-1"));
  CHECK(letter(rpc("GET", "/api/v1/dead-letters/function-runs"), "refused-1") == nullptr);
  // The row is the one that was refused (input document and context).
  CHECK(psql("SELECT input::text || ' ' || dev_eui FROM runner.function_runs WHERE run_id = 'refused-1'")
            .find(R"({"a":4} refused-eui)") != std::string::npos);
}

TEST_CASE("while PostgreSQL is down the rows wait, /readyz says why, and they are written when it is back") {
  auto& s = history_stack();
  Api api(s, As::admin);
  // The runner drops a cached definition when the registry announces a change: the creation's
  // announcement must have gone by before the definition is cached for the outage.
  std::atomic<int> announced{0};
  auto changes = nats()->subscribe("dm.registry.changed.function", "", [&](bus::Message&&) { ++announced; });
  REQUIRE(changes.ok());
  REQUIRE(nats()->flush(5s).ok());
  auto fid = create_function(api);
  REQUIRE(wait_until([&] { return announced > 0; }, 10s));
  exec(execution("warm-1", fid, R"({"a":5})"));  // the function's definition is cached from here on
  REQUIRE(wait_until([] { return stored("warm-1"); }, 20s));
  auto client = http::Client::create(s.url("function-runner"));
  REQUIRE(client.ok());

  s.pg().stop();
  exec(execution("during-1", fid, R"({"a":6})"));
  std::string ready;
  CHECK(wait_until(
      [&] {
        auto r = (*client)->request("GET", "/readyz", "", {});
        ready = r.ok() ? r->body : std::string();
        return r.ok() && r->status == 503 && ready.find("function history: ") != std::string::npos;
      },
      20s));
  INFO(ready);
  CHECK(ready.find(" since ") != std::string::npos);
  s.pg().start();
  REQUIRE(wait_until([] { return stored("during-1"); }, 30s));
  CHECK(wait_until(
      [&] {
        auto r = (*client)->request("GET", "/readyz", "", {});
        return r.ok() && r->status == 200;
      },
      20s));
}
