// HTTP deliveries end to end: jobs published into DM_DISPATCH reach dm-sink through the
// dispatcher; retries, idempotency, dead letters and their retry, outbound safety, history
// (masked by default; whatever bytes a remote end answers, its row is written).
#include <fstream>
#include <iterator>

#include "dispatch_fixture.hpp"
#include "dm/contract/batch.hpp"
#include "dm/contract/work.hpp"

using namespace dm;
using namespace dm::test;

TEST_CASE("a receiver that fails twice then succeeds gets exactly one successful delivery") {
  Sink sink({"--fail-first", "2", "--fail-status", "503"});
  auto id = create("integrations", "http",
                   R"({"url":")" + sink.url() + R"(","headers":{"Authorization":"Bearer s3cret","X-Tag":"t"}})");
  publish_job("fail-twice-1", "integration", id);
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 1; }));
  CHECK(sink.stat("received") == 1);  // dm-sink counts answered-200 requests here
  CHECK(sink.stat("failed") == 2);
  CHECK(sink.stat("unique_keys") == 1);  // every attempt carried the same Idempotency-Key

  auto all = call("GET", "/api/v1/integrations/" + id + "/history");
  REQUIRE(all.json.Size() == 3);
  CHECK(count_history(id, "retrying") == 2);
  // One delivery in detail: request (secrets redacted), response, and every attempt.
  std::string hid;
  for (const auto& h : all.json.GetArray()) {
    if (std::string(json::view(h["status"])) == "delivered") hid = json::view(h["id"]);
  }
  auto one = call("GET", "/api/v1/integrations/" + id + "/history/" + hid);
  REQUIRE(one.status == 200);
  CHECK(one.json["attempts"].Size() == 3);
  CHECK(one.json["http_status"].GetInt() == 200);
  std::string req = json::to_string(one.json["request"]);
  CHECK(req.find("s3cret") == std::string::npos);
  CHECK(req.find("********") != std::string::npos);
  CHECK(req.find("fail-twice-1") != std::string::npos);  // Idempotency-Key
  CHECK(one.json["response"]["status"].GetInt() == 200);

  // The same job published again (after the stream's duplicate window, say) is not sent again.
  auto again = nats().jetstream().publish("dm.work.dispatch." + id, job_json("fail-twice-1", "integration", id),
                                          "another-msg-id", std::chrono::seconds(5));
  REQUIRE(again.ok());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(sink.stat("received") == 1);
  CHECK(sink.stat("failed") == 2);
  CHECK(count_history(id) == 3);
}

TEST_CASE("a batch of jobs: each delivered once, the one that failed retried alone, an unreadable entry skipped") {
  Sink sink({"--fail-first", "1", "--fail-status", "503"});
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  // As the orchestrator queues a level's jobs for one target: one message, entries named by job id.
  contract::BatchWriter batch;
  for (int i = 0; i < 5; ++i) {
    auto job = "batch-" + std::to_string(i);
    batch.add(job, job_json(job, "integration", id));
  }
  batch.add("not-a-job", R"({"job_id":)");
  auto ack = nats().jetstream().publish("dm.work.dispatch." + id, batch.take(), "", std::chrono::seconds(5),
                                        {{contract::kJobBatchHeader, "6"}});
  REQUIRE(ack.ok());
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 5; }));
  CHECK(count_history(id, "retrying") == 1);
  // The message came back for the job that failed; the four delivered before were not sent again.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(sink.stat("failed") == 1);
  CHECK(sink.stat("received") == 5);
  CHECK(sink.stat("unique_keys") == 5);
  CHECK(count_history(id) == 6);
}

TEST_CASE(
    "a repeat (a job queued again for a redelivered uplink) is looked up: a restarted dispatcher sends only what is "
    "not done") {
  Sink sink;
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  publish_job("repeat-1", "integration", id);
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 1; }));
  stack().stop("integration-dispatcher");  // its memory of finished jobs goes with it
  stack().start("integration-dispatcher");
  REQUIRE(stack().wait_ready("integration-dispatcher", std::chrono::seconds(30)));
  for (const std::string job : {"repeat-1", "repeat-2"}) {
    // Past the stream's duplicate window (another Nats-Msg-Id): only the dispatcher can tell.
    auto ack = nats().jetstream().publish("dm.work.dispatch." + id, job_json(job, "integration", id), job + "-again",
                                          std::chrono::seconds(5), {{contract::kRepeatHeader, "1"}});
    REQUIRE(ack.ok());
  }
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 2; }));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(sink.stat("received") == 2);
  CHECK(sink.stat("unique_keys") == 2);
  CHECK(count_history(id) == 2);
}

TEST_CASE("a receiver that always fails ends in the dead letters, and retry from there delivers") {
  Sink sink({"--fail-first", "3", "--fail-status", "500"});  // MAX_ATTEMPTS is 3 in this stack
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  publish_job("dead-1", "integration", id);
  Reply dead;
  REQUIRE(eventually([&] {
    dead = call("GET", "/api/v1/integrations/" + id + "/dead-letters");
    return dead.status == 200 && dead.json.Size() == 1;
  }));
  CHECK(dead.json[0]["attempts"].GetInt() == 3);
  CHECK(std::string(json::view(dead.json[0]["job_id"])) == "dead-1");
  CHECK(std::string(json::view(dead.json[0]["last_error"])).find("500") != std::string::npos);
  CHECK(count_history(id, "dead_lettered") == 1);

  std::string dl(json::view(dead.json[0]["id"]));
  CHECK(
      call("POST", "/api/v1/integrations/" + id + "/dead-letters/00000000-0000-0000-0000-000000000000/retry").status ==
      404);
  auto retried = call("POST", "/api/v1/integrations/" + id + "/dead-letters/" + dl + "/retry");
  REQUIRE(retried.status == 200);
  CHECK(retried.json["retried"].GetInt() == 1);
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 1; }));
  CHECK(call("GET", "/api/v1/integrations/" + id + "/dead-letters").json.Size() == 0);
  CHECK(sink.stat("unique_keys") == 1);

  // Bulk retry: two more dead letters, both requeued by one call.
  Sink always({"--fail-first", "1000000"});
  auto id2 = create("integrations", "http", R"({"url":")" + always.url() + R"("})");
  publish_job("dead-2a", "integration", id2);
  publish_job("dead-2b", "integration", id2);
  REQUIRE(eventually([&] { return call("GET", "/api/v1/integrations/" + id2 + "/dead-letters").json.Size() == 2; }));
  auto bulk = call("POST", "/api/v1/integrations/" + id2 + "/dead-letters/retry");
  REQUIRE(bulk.status == 200);
  CHECK(bulk.json["retried"].GetInt() == 2);
  REQUIRE(eventually([&] { return count_history(id2, "dead_lettered") == 4; }));
}

TEST_CASE("a slow endpoint with a backlog does not hold up another integration") {
  // The slow target takes 0.5 s per request, 8 at a time; this stack keeps at most 20 of its
  // jobs queued (DISPATCHER_TARGET_QUEUE), so most of its 80 jobs are handed back to the stream.
  Sink slow({"--delay-ms", "500", "--threads", "16"});
  Sink fast;
  auto slow_id = create("integrations", "http", R"({"url":")" + slow.url() + R"("})");
  auto fast_id = create("integrations", "http", R"({"url":")" + fast.url() + R"("})");
  for (int i = 0; i < 80; ++i) publish_job("slow-" + std::to_string(i), "integration", slow_id);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the backlog is being worked on
  auto t0 = std::chrono::steady_clock::now();
  publish_job("fast-1", "integration", fast_id);
  REQUIRE(eventually([&] { return fast.stat("received") == 1; }, std::chrono::seconds(10)));
  auto waited = std::chrono::steady_clock::now() - t0;
  INFO("fast delivery took " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
  CHECK(waited < std::chrono::seconds(2));
  // Handing back is no attempt: every one of the slow target's deliveries took one.
  REQUIRE(eventually([&] { return count_history(slow_id, "delivered") == 80; }, std::chrono::seconds(60)));
  CHECK(count_history(slow_id, "retrying") == 0);
  CHECK(slow.stat("failed") == 0);
  auto delivered = call("GET", "/api/v1/integrations/" + slow_id + "/history?status=delivered&limit=1000");
  REQUIRE(delivered.status == 200);
  for (const auto& h : delivered.json.GetArray()) CHECK(h["attempt"].GetInt() == 1);
  CHECK(call("DELETE", "/api/v1/integrations/" + slow_id).status == 204);
}

TEST_CASE("a permanent refusal (4xx) is not retried") {
  Sink sink({"--fail-first", "1000", "--fail-status", "400"});
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  publish_job("perm-1", "integration", id);
  REQUIRE(eventually([&] { return count_history(id, "failed") == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  CHECK(sink.stat("failed") == 1);
  CHECK(call("GET", "/api/v1/integrations/" + id + "/dead-letters").json.Size() == 0);
}

TEST_CASE("outbound safety: special destinations are refused when saved and when sent") {
  for (const char* url :
       {"http://169.254.169.254/latest/meta-data", "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.1.1/",
        "http://[::1]/", "http://[::ffff:10.0.0.1]/", "file:///etc/passwd", "http://0xa000001/"}) {
    auto r = call("POST", "/api/v1/integrations",
                  R"({"name":")" + unique("unsafe") + R"(","type":"http","config":{"url":")" + url + R"("}})");
    INFO(url << " " << r.body);
    CHECK(r.status == 422);
    CHECK(r.body.find("url") != std::string::npos);
  }
  // The registry here allows 127.0.0.0/8 but the dispatcher only 127.0.0.1: the send-time
  // check refuses 127.0.0.2 without connecting.
  Sink sink({}, "127.0.0.2");
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  publish_job("unsafe-1", "integration", id);
  REQUIRE(eventually([&] { return count_history(id, "failed") == 1; }));
  auto h = call("GET", "/api/v1/integrations/" + id + "/history");
  CHECK(std::string(json::view(h.json[0]["error"])).find("not allowed") != std::string::npos);
  CHECK(sink.stat("received") == 0);
}

TEST_CASE("POST /integrations/{id}/test sends a sample and reports what happened") {
  Sink sink;
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"(","method":"GET"})");
  auto r = call("POST", "/api/v1/integrations/" + id + "/test");
  REQUIRE(r.status == 200);
  CHECK(r.json["delivered"].GetBool());
  CHECK(r.json["http_status"].GetInt() == 200);
  CHECK(std::string(json::view(r.json["request"]["url"])).find("?test=true") != std::string::npos);
  CHECK(call("POST", "/api/v1/integrations/00000000-0000-0000-0000-000000000000/test").status == 404);
}

TEST_CASE("history and /test answers show no header value that is not harmless, and no URL credential") {
  Sink sink;
  auto id = create("integrations", "http",
                   R"({"url":")" + sink.url("/in?token=url-token&x=1") +
                       R"(","headers":{"X-Hub-Signature":"sha1=hub-secret","X-Custom":"custom-secret",)"
                       R"("Content-Type":"application/json","X-Request-Id":"rid-1"}})");
  auto check = [](const json::Value& request) {
    std::string text = json::to_string(request);
    INFO(text);
    for (const char* secret : {"hub-secret", "custom-secret", "url-token"})
      CHECK(text.find(secret) == std::string::npos);
    CHECK(std::string(json::view(request["headers"]["X-Hub-Signature"])) == "********");
    CHECK(std::string(json::view(request["headers"]["X-Custom"])) == "********");
    CHECK(std::string(json::view(request["headers"]["X-Request-Id"])) == "rid-1");  // harmless: shown
    CHECK(std::string(json::view(request["url"])).find("/in?token=********&x=1") != std::string::npos);
  };
  auto tested = call("POST", "/api/v1/integrations/" + id + "/test");
  REQUIRE(tested.status == 200);
  CHECK(tested.json["delivered"].GetBool());
  check(tested.json["request"]);
  // Response headers follow the same rule (dm-sink's Server header is not on the harmless list).
  CHECK(std::string(json::view(tested.json["response"]["headers"]["Server"])) == "********");

  publish_job("masked-1", "integration", id);
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 1; }));
  auto row = call("GET", "/api/v1/integrations/" + id + "/history");
  auto one = call("GET", "/api/v1/integrations/" + id + "/history/" + std::string(json::view(row.json[0]["id"])));
  REQUIRE(one.status == 200);
  check(one.json["request"]);
  CHECK(std::string(json::view(one.json["request"]["headers"]["Idempotency-Key"])) == "masked-1");  // ours: shown
}

TEST_CASE("a response that is not UTF-8 and a request body cut inside a character are recorded with their row") {
  const std::string body = "bad \xff\xfe bytes \xc3";  // ends inside a character too
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Api-Token: resp-secret\r\n"
      "Set-Cookie: sid=cookie-secret\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  Listener remote("127.0.0.1", [&](int fd) { answer_with(fd, response); });
  auto id = create("integrations", "http", R"({"url":"http://127.0.0.1:)" + std::to_string(remote.port()) + R"(/in"})");
  // A message whose 64 KiB cut in history falls inside its "é" (bytes 65535 and 65536).
  std::string message = R"({"pad":")";
  message += std::string((64 << 10) - 1 - message.size(), 'a') + "\xc3\xa9" + R"("})";
  publish_job("not-utf8-1", "integration", id, message);
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 1; }));
  // The row kept both documents (a refused row would have been written again without them).
  const std::string where = " FROM dispatcher.history WHERE job_id = 'not-utf8-1'";
  CHECK(sql_value("SELECT request IS NOT NULL AND response IS NOT NULL" + where) == "t");
  CHECK(sql_value("SELECT response->>'body' = E'bad \\uFFFD\\uFFFD bytes \\uFFFD'" + where) == "t");
  CHECK(sql_value("SELECT request->>'body_truncated'" + where) == "true");
  CHECK(sql_value("SELECT right(request->>'body', 3)" + where) == "aaa");  // the é across the cut is left out
  std::string headers = sql_value("SELECT response->>'headers'" + where);
  CHECK(headers.find("resp-secret") == std::string::npos);
  CHECK(headers.find("cookie-secret") == std::string::npos);
}

TEST_CASE("internal storages keep records, queryable by device and time") {
  auto id = create("storages", "internal", "{}");
  publish_job("rec-1", "storage", id, R"({"temperature":20})");
  publish_job("rec-2", "storage", id, R"({"temperature":21})");
  Reply r;
  REQUIRE(eventually([&] {
    r = call("GET", "/api/v1/storages/" + id + "/records?dev_eui=0004a30b001c0530");
    return r.status == 200 && r.json.Size() == 2;
  }));
  CHECK(r.json[0]["data"].HasMember("temperature"));
  CHECK(call("GET", "/api/v1/storages/" + id + "/records?dev_eui=ffffffffffffffff").json.Size() == 0);
  CHECK(call("GET", "/api/v1/storages/" + id + "/records?from=2030-01-01T00:00:00Z").json.Size() == 0);
  CHECK(call("GET", "/api/v1/storages/" + id + "/records?from=yesterday").status == 422);
}

TEST_CASE("HTTPS with a self-signed certificate fails verification by default and works with its CA") {
  testing::TempDir dir("dm-tls");
  auto gen = testing::run_command("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + dir.path() + "/key.pem -out " +
                                  dir.path() +
                                  "/cert.pem -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>&1");
  REQUIRE(gen.exit_code == 0);
  {
    std::ofstream py(dir.path() + "/server.py");
    py << "import http.server, ssl, sys\n"
          "class H(http.server.BaseHTTPRequestHandler):\n"
          "    def do_POST(self):\n"
          "        self.rfile.read(int(self.headers.get('Content-Length', 0)))\n"
          "        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); "
          "self.wfile.write(b'ok')\n"
          "    do_GET = do_POST\n"
          "    def log_message(self, *a): pass\n"
          "s = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H)\n"
          "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])\n"
          "s.socket = ctx.wrap_socket(s.socket, server_side=True)\n"
          "s.serve_forever()\n";
  }
  int port = testing::free_port();
  testing::Process server(
      {"python3", dir.path() + "/server.py", std::to_string(port), dir.path() + "/cert.pem", dir.path() + "/key.pem"});
  REQUIRE(testing::wait_for_port(port, std::chrono::seconds(10)));
  std::string url = "https://127.0.0.1:" + std::to_string(port) + "/in";
  auto id = create("integrations", "http", R"({"url":")" + url + R"("})");
  auto refused = call("POST", "/api/v1/integrations/" + id + "/test");
  REQUIRE(refused.status == 200);
  CHECK_FALSE(refused.json["delivered"].GetBool());
  CHECK(std::string(json::view(refused.json["error"])).find("verification failed") != std::string::npos);
  CHECK_FALSE(refused.json["retryable"].GetBool());

  std::string pem = testing::read_text(dir.path() + "/cert.pem");
  json::Writer w;
  w.start_object().key("config").start_object().field("url", url).field("ca_cert", pem).end_object().end_object();
  auto patched = call("PATCH", "/api/v1/integrations/" + id, w.take());
  REQUIRE(patched.status == 200);
  auto delivered = call("POST", "/api/v1/integrations/" + id + "/test");
  INFO(delivered.body);
  CHECK(delivered.json["delivered"].GetBool());
  // And a job through the queue uses the new CA too (the change event dropped the cached copy).
  publish_job("tls-1", "integration", id);
  REQUIRE(eventually([&] { return count_history(id, "delivered") == 1; }));
}

TEST_CASE("kill -9 of the dispatcher mid-delivery loses nothing") {
  Sink sink({"--delay-ms", "100"});
  auto id = create("integrations", "http", R"({"url":")" + sink.url() + R"("})");
  for (int i = 0; i < 30; ++i) publish_job("kill-" + std::to_string(i), "integration", id);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stack().kill9("integration-dispatcher");
  stack().start("integration-dispatcher");
  REQUIRE(stack().wait_ready("integration-dispatcher", std::chrono::seconds(30)));
  // Unacked jobs come back after ACK_WAIT (3 s in this stack).
  REQUIRE(eventually([&] { return sink.stat("unique_keys") == 30; }, std::chrono::seconds(40)));
  // Attempts in flight or not yet recorded at the kill are sent again (at least once, with the
  // same Idempotency-Key); what was recorded is not.
  CHECK(sink.stat("duplicates") < 20);
  REQUIRE(eventually([&] { return count_history(id, "delivered") >= 30; }));
}
