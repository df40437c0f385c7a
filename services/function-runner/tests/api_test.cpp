// The runner in a real stack (NATS, PostgreSQL, registry, gateway, function-runner): test
// endpoints over HTTP through the gateway, syntax errors on save, batched executions on
// dm.fn.exec, cache refresh after an update, history and the function's status.
#include <catch2/catch.hpp>
#include <future>
#include <thread>
#include <vector>

#include "api_fixture.hpp"  // services/registry/tests: authenticated client over the gateway
#include "dm/bus/bus.hpp"

using namespace dm;
using namespace std::chrono_literals;
using test::Api;
using test::As;

namespace {
testing::Stack& runner_stack() {
  static testing::Stack s({"registry", "gateway", "function-runner"}, {{"RUNNER_WORKERS", "2"},
                                                                       {"RUNNER_HISTORY_FLUSH_INTERVAL", "100ms"},
                                                                       {"RUNNER_HISTORY_PURGE_INTERVAL", "200ms"},
                                                                       {"RUNNER_MAX_OUTPUT_BYTES", "1048576"},
                                                                       {"RUNNER_QUARANTINE_STRIKES", "2"},
                                                                       {"RUNNER_TEST_QUEUE", "3"}});
  return s;
}

const char* kExample =
    "function processTemperature(data) {\n"
    "  if (data.data.temperature) {\n"
    "    data.data.temperatureF = (data.data.temperature * 9) / 5 + 32;\n"
    "  }\n"
    "  return data;\n"
    "}";

// One allocation far beyond the heap limit: V8 aborts the worker every time.
const char* kBomb =
    "function f(){ const a = 'x'.repeat(2**29 - 24), b = 'y'.repeat(2**29 - 24); return {n: a.indexOf('z') + "
    "b.indexOf('z')}; }";

// The bomb's time budget: building its strings until V8 aborts took over a second on a loaded
// machine, so with 1 s the watchdog sometimes ended it first ("timeout" instead of the proven
// crash, "error": a flake). 5 s is the most an execution may ask for.
constexpr int kProofBudgetMs = 5000;

std::string json_string(const std::string& s) {
  json::Writer w;
  w.string(s);
  return w.take();
}

std::string create_function(Api& api, const std::string& code) {
  auto r =
      api.post("/api/v1/functions", "{\"name\":\"" + test::unique("fn") + "\",\"code\":" + json_string(code) + "}");
  INFO(r.body);
  REQUIRE(r.status == 201);
  return r.str("id");
}

std::shared_ptr<bus::Connection> nats() {
  static auto c = [] {
    bus::Options o;
    o.url = runner_stack().nats().url();
    auto conn = bus::Connection::connect(o);
    REQUIRE(conn.ok());
    return std::move(conn).value();
  }();
  return c;
}

json::Document exec(const std::string& body) {
  auto r = nats()->request("dm.fn.exec", body, 30s);
  REQUIRE(r.ok());
  auto doc = json::parse(r->data, {.max_bytes = 64u << 20});
  REQUIRE(doc.ok());
  return std::move(doc).value();
}

// As the orchestrator asks: request_async, which takes a reply in parts.
Result<bus::Message> ask(const std::string& subject, const std::string& body, const bus::Headers& headers = {},
                         std::chrono::milliseconds timeout = 20s) {
  auto promise = std::make_shared<std::promise<Result<bus::Message>>>();
  auto future = promise->get_future();
  nats()->request_async(
      subject, body, timeout, [promise](Result<bus::Message> r) { promise->set_value(std::move(r)); }, headers);
  return future.get();
}

// A REST call straight to the runner over NATS, as the gateway makes it for `user`.
std::shared_future<Result<bus::Message>> test_run_as(const std::string& user, const std::string& body) {
  auto promise = std::make_shared<std::promise<Result<bus::Message>>>();
  bus::Headers headers{{"Dm-Method", "POST"},
                       {"Dm-Target", "/api/v1/functions/test"},
                       {"Content-Type", "application/json"},
                       {"Dm-User-Id", user}};
  nats()->request_async(
      "dm.rpc.function-runner.gateway", body, 30s,
      [promise](Result<bus::Message> r) { promise->set_value(std::move(r)); }, headers);
  return promise->get_future().share();
}

std::string execution(const std::string& id, const std::string& fid, const std::string& input, int version = 1,
                      int timeout_ms = 1000) {
  return "{\"id\":\"" + id + "\",\"function_id\":\"" + fid + "\",\"version\":" + std::to_string(version) +
         ",\"input\":" + input + ",\"parameters\":{},\"timeout_ms\":" + std::to_string(timeout_ms) +
         ",\"context\":{\"flow_id\":\"flow-1\"}}";
}
}  // namespace

TEST_CASE("saving code with a syntax error answers 422 with line and column") {
  Api api(runner_stack(), As::admin);
  auto r = api.post("/api/v1/functions",
                    "{\"name\":\"" + test::unique("bad") + "\",\"code\":\"function f(m) {\\n  return m +;\\n}\"}");
  INFO(r.body);
  REQUIRE(r.status == 422);
  CHECK(r.body.find("\"line\":2") != std::string::npos);
  CHECK(r.body.find("\"column\":13") != std::string::npos);
  CHECK(r.body.find("SyntaxError") != std::string::npos);
  // And an update with bad code changes nothing.
  auto id = create_function(api, kExample);
  auto u = api.put("/api/v1/functions/" + id, "{\"code\":\"function (\"}");
  CHECK(u.status == 422);
  CHECK(api.get("/api/v1/functions/" + id)["version"].GetInt() == 1);
}

TEST_CASE("test endpoints run code over HTTP through the gateway") {
  Api api(runner_stack(), As::admin);
  auto id = create_function(api, kExample);
  auto saved = api.post("/api/v1/functions/" + id + "/test", R"({"input":{"data":{"temperature":20}}})");
  INFO(saved.body);
  REQUIRE(saved.status == 200);
  CHECK(saved.str("status") == "success");
  CHECK(saved["output"]["data"]["temperatureF"].GetInt() == 68);
  CHECK(saved["duration_ms"].IsNumber());

  auto logs = api.post(
      "/api/v1/functions/test",
      R"({"code":"function f(m, p){ console.log('hello', p.x); return {y: p.x}; }","input":{},"parameters":{"x":3}})");
  REQUIRE(logs.status == 200);
  CHECK(logs["output"]["y"].GetInt() == 3);
  CHECK(logs.body.find(R"({"level":"info","message":"hello 3"})") != std::string::npos);

  auto loop = api.post("/api/v1/functions/test", R"({"code":"function f(){ for(;;){} }","timeout_ms":50})");
  REQUIRE(loop.status == 200);
  CHECK(loop.str("status") == "timeout");

  auto thrown = api.post("/api/v1/functions/test", R"({"code":"function f(){ throw new Error('nope'); }"})");
  CHECK(thrown.str("status") == "error");
  CHECK(std::string(json::view(thrown["error"]["message"])) == "Error: nope");

  CHECK(api.post("/api/v1/functions/test", R"({"code":"function f( {"})").status == 422);
  CHECK(api.post("/api/v1/functions/test", R"({"input":{}})").status == 422);
  CHECK(api.post("/api/v1/functions/00000000-0000-4000-8000-000000000000/test", "{}").status == 404);
}

TEST_CASE("batched executions on dm.fn.exec, status and cache refresh") {
  Api api(runner_stack(), As::admin);
  auto id = create_function(api, kExample);
  auto bomb = create_function(api, kBomb);
  auto reply =
      exec("{\"executions\":[" + execution("run-a-" + id, id, R"({"data":{"temperature":10}})") + "," +
           execution("run-b-" + id, id, R"({"data":{}})") + "," + execution("run-c-" + id, "unknown-function", "{}") +
           "," + execution("run-d-" + id, bomb, "{}", 1, kProofBudgetMs) + "]}");
  const auto& results = reply["results"];
  REQUIRE(results.Size() == 4);
  CHECK(std::string(json::view(results[0]["status"])) == "success");
  CHECK(results[0]["output"]["data"]["temperatureF"].GetInt() == 50);
  CHECK(std::string(json::view(results[1]["status"])) == "success");
  CHECK(std::string(json::view(results[2]["status"])) == "error");
  CHECK(std::string(json::view(results[3]["status"])) == "error");

  // The runner survived the crash of one worker and keeps serving.
  auto again = exec("{\"executions\":[" + execution("run-e-" + id, id, R"({"data":{"temperature":0}})") + "]}");
  CHECK(std::string(json::view(again["results"][0]["status"])) == "success");

  // Cache refresh: an update (new version) is what the next execution runs.
  auto u = api.put("/api/v1/functions/" + id, "{\"code\":\"function f(m){ return {v: 2}; }\"}");
  REQUIRE(u.status == 200);
  std::string output;
  for (int i = 0; i < 50 && output != R"({"v":2})"; ++i) {
    auto r = exec("{\"executions\":[" + execution("run-v2-" + std::to_string(i) + id, id, "{}") + "]}");
    output = json::to_string(r["results"][0]["output"]);
    if (output != R"({"v":2})") std::this_thread::sleep_for(50ms);
  }
  CHECK(output == R"({"v":2})");

  // Each result names the version that ran (the orchestrator records it in function history).
  CHECK(again["results"][0]["version"].GetInt64() >= 1);
  // Status follows the last run (reported once a second).

  std::string status;
  for (int i = 0; i < 40 && status != "success"; ++i) {
    status = api.get("/api/v1/functions/" + id).str("status");
    if (status != "success") std::this_thread::sleep_for(100ms);
  }
  CHECK(status == "success");
  // Reported once a second: the crash may land in the report after the one above.
  std::string bomb_status;
  for (int i = 0; i < 40 && bomb_status != "error"; ++i) {
    bomb_status = api.get("/api/v1/functions/" + bomb).str("status");
    if (bomb_status != "error") std::this_thread::sleep_for(100ms);
  }
  CHECK(bomb_status == "error");

  // The runner's own port: health and metrics show the crash and the executions.
  auto client = http::Client::create(runner_stack().url("function-runner"));
  REQUIRE(client.ok());
  auto ready = (*client)->request("GET", "/readyz", "", {});
  REQUIRE(ready.ok());
  CHECK(ready->status == 200);
  auto metrics = (*client)->request("GET", "/metrics", "", {});
  REQUIRE(metrics.ok());
  CHECK(metrics->body.find("dm_function_executions_total") != std::string::npos);
  CHECK(metrics->body.find("dm_function_worker_crashes_total 0\n") == std::string::npos);
}

TEST_CASE("a malformed batch is refused without running anything") {
  auto r = nats()->request("dm.fn.exec", "{\"nope\":1}", 5s);
  REQUIRE(r.ok());
  CHECK(r->header("Dm-Status").value_or("") == "400");
}

TEST_CASE("a batch reply larger than NATS's max payload arrives whole, in parts") {
  Api api(runner_stack(), As::admin);
  auto id = create_function(api, "function f(m){ return {s: String(m.n).repeat(700000)}; }");
  auto reply = ask("dm.fn.exec", "{\"executions\":[" + execution("big-1-" + id, id, R"({"n":1})") + "," +
                                     execution("big-2-" + id, id, R"({"n":2})") + "]}");
  INFO((reply.ok() ? std::string() : reply.error().message));
  REQUIRE(reply.ok());
  CHECK(reply->data.size() > 1400000);
  auto doc = json::parse(reply->data, {.max_bytes = 64u << 20});
  REQUIRE(doc.ok());
  const auto& results = (*doc)["results"];
  REQUIRE(results.Size() == 2);
  for (unsigned k = 0; k < 2; ++k) {
    CHECK(std::string(json::view(results[k]["status"])) == "success");
    CHECK(json::view(results[k]["output"]["s"]) == std::string(700000, k == 0 ? '1' : '2'));
  }
  // Over RUNNER_MAX_OUTPUT_BYTES the run is an error that says how large the output was.
  auto id2 = create_function(api, "function f(){ return {s: 'x'.repeat(2000000)}; }");
  auto over = ask("dm.fn.exec", "{\"executions\":[" + execution("big-3-" + id2, id2, "{}") + "]}");
  REQUIRE(over.ok());
  auto over_doc = json::parse(over->data);
  REQUIRE(over_doc.ok());
  CHECK(std::string(json::view((*over_doc)["results"][0]["status"])) == "error");
  CHECK(std::string(json::view((*over_doc)["results"][0]["error"]["message"]))
            .find("2000008 bytes, over the limit of 1048576 bytes") != std::string::npos);
}

TEST_CASE("a function error with a 10 MB message is answered with the message cut, not a 504") {
  Api api(runner_stack(), As::admin);
  auto r = api.post("/api/v1/functions/test",
                    R"({"code":"function f(){ throw new Error('x'.repeat(10 * 1024 * 1024)); }","timeout_ms":3000})");
  INFO(r.body.substr(0, 300));
  REQUIRE(r.status == 200);
  CHECK(r.str("status") == "error");
  std::string message(json::view(r["error"]["message"]));
  CHECK(message.size() < 4200);
  CHECK(message.find("[cut ") != std::string::npos);
  CHECK(r.body.size() < 32 * 1024);
}

TEST_CASE("test runs: a fair share per caller (429 beyond it), and flow executions are not held up") {
  Api api(runner_stack(), As::admin);
  auto id = create_function(api, kExample);
  const std::string slow =
      R"({"code":"function f(m){ const end = Date.now() + 700; while (Date.now() < end) {} return {ok: 1}; }","timeout_ms":2000})";
  // 2 run and 3 wait per caller (RUNNER_TEST_QUEUE=3 here): the 6th at once is refused; another
  // caller still gets in.
  std::vector<std::shared_future<Result<bus::Message>>> alice;
  for (int i = 0; i < 6; ++i) alice.push_back(test_run_as("alice", slow));
  auto bob = test_run_as("bob", slow);
  // Meanwhile executions of a flow wait at most for a test run in a worker, never behind queued
  // test runs: workers take test runs only when they have no flow work.
  auto t0 = std::chrono::steady_clock::now();
  auto flow = exec("{\"executions\":[" + execution("fair-1-" + id, id, R"({"data":{"temperature":1}})") + "]}");
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);
  CHECK(std::string(json::view(flow["results"][0]["status"])) == "success");

  int ok = 0, refused = 0;
  for (auto& f : alice) {
    auto r = f.get();
    REQUIRE(r.ok());
    auto status = r->header("Dm-Status").value_or("");
    if (status == "200") ++ok;
    if (status == "429") {
      ++refused;
      CHECK(r->header("Retry-After").has_value());
      CHECK(r->data.find("Too many test runs") != std::string::npos);
    }
  }
  CHECK(ok == 5);
  CHECK(refused == 1);
  auto b = bob.get();
  REQUIRE(b.ok());
  CHECK(b->header("Dm-Status") == "200");
}

TEST_CASE("inline test code that keeps crashing workers is quarantined by its hash") {
  // Straight over NATS, with a longer timeout than the gateway's: a proven crash takes two worker
  // deaths and restarts.
  auto run = [](const std::string& body) {
    auto r = test_run_as("bomber", body).get();
    REQUIRE(r.ok());
    REQUIRE(r->header("Dm-Status") == "200");
    auto doc = json::parse(r->data);
    REQUIRE(doc.ok());
    return std::move(doc).value();
  };
  const std::string bomb = "{\"code\":" + json_string(kBomb) + ",\"timeout_ms\":5000}";
  for (int i = 0; i < 2; ++i) {  // RUNNER_QUARANTINE_STRIKES=2 in this stack
    auto r = run(bomb);
    CHECK(std::string(json::view(r["status"])) == "error");
    CHECK(std::string(json::view(r["error"]["message"])).find("crashed its worker") != std::string::npos);
  }
  auto q = run(bomb);
  CHECK(std::string(json::view(q["error"]["message"])).find("quarantined") != std::string::npos);
  // Other code is not affected.
  auto fine = run(R"({"code":"function f(){ return {n: 1}; }"})");
  CHECK(std::string(json::view(fine["status"])) == "success");
}
