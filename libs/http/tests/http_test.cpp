#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "dm/http/async_client.hpp"
#include "dm/http/client.hpp"
#include "dm/http/router.hpp"
#include "dm/http/server.hpp"
#include "dm/testing/testing.hpp"

using namespace dm::http;
using namespace std::chrono_literals;
using dm::Errc;

namespace {

// Dispatches a hand-built request and returns what the router replied synchronously.
Response call(const Router& router, const std::string& method, const std::string& target, Request* seen = nullptr) {
  Request req;
  req.method = method;
  req.target = target;
  parse_target(req);
  std::optional<Response> out;
  router.dispatch(req, [&](Response r) { out = std::move(r); });
  if (seen) *seen = req;
  REQUIRE(out.has_value());
  return *out;
}

SyncHandler echo(std::string name) {
  return [name](const Request& r) {
    std::string body = name;
    for (const auto& [k, v] : r.params) body += " " + k + "=" + v;
    return Response::text(200, body);
  };
}

// Minimal blocking socket for requests the Client would never send.
std::string raw_exchange(int port, const std::string& request, std::chrono::milliseconds timeout = 3s,
                         const std::string& then_send = {}) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  bool sent_rest = then_send.empty();
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (!sent_rest && out.find("100 Continue\r\n\r\n") != std::string::npos) {
      ::send(fd, then_send.data(), then_send.size(), MSG_NOSIGNAL);
      sent_rest = true;
    }
  }
  ::close(fd);
  return out;
}

struct TestServer {
  explicit TestServer(std::shared_ptr<Router> r, ServerOptions opt = {}) : router(std::move(r)) {
    opt.host = "127.0.0.1";
    server = std::make_unique<Server>(opt, router);
    auto started = server->start();
    REQUIRE(started.ok());
    REQUIRE(server->port() > 0);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  std::shared_ptr<Router> router;
  std::unique_ptr<Server> server;
};

// GET `path` on the router never answers by itself: its replies are kept here, for the test to
// answer or drop (they must not outlive the test).
struct ParkedReplies {
  ParkedReplies(Router& router, const std::string& path) {
    router.add("GET", path, [this](const Request&, Reply reply) {
      std::lock_guard lock(mu);
      replies.push_back(std::move(reply));
    });
  }
  std::mutex mu;
  std::vector<Reply> replies;
};

std::unique_ptr<Client> make_client(const std::string& url, ClientOptions opt = {}) {
  auto c = Client::create(url, opt);
  REQUIRE(c.ok());
  return std::move(c).value();
}

}  // namespace

TEST_CASE("router: path parameters, literal beats parameter, trailing slash") {
  Router router;
  router.add_sync("GET", "/api/v1/devices/{id}", echo("device"));
  router.add_sync("GET", "/api/v1/devices/history", echo("history"));
  router.add_sync("GET", "/api/v1/devices/{id}/labels/{key}", echo("label"));
  router.add_sync("GET", "/api/v1/devices", echo("list"));
  router.add_sync("GET", "/", echo("root"));
  router.add_sync("GET", "/static/{file:path}", echo("static"));

  CHECK(call(router, "GET", "/api/v1/devices/abc").body == "device id=abc");
  CHECK(call(router, "GET", "/api/v1/devices/history").body == "history");
  CHECK(call(router, "GET", "/api/v1/devices/d1/labels/site").body == "label id=d1 key=site");
  CHECK(call(router, "GET", "/api/v1/devices/").body == "list");
  CHECK(call(router, "GET", "/api/v1/devices/abc/").body == "device id=abc");
  CHECK(call(router, "GET", "/").body == "root");
  CHECK(call(router, "GET", "/static/css/app.css").body == "static file=css/app.css");

  Request seen;
  call(router, "GET", "/api/v1/devices/x?skip=1", &seen);
  CHECK(seen.route == "/api/v1/devices/{id}");
  CHECK(seen.param("id") == "x");

  auto routes = router.routes();
  REQUIRE(routes.size() == 6);
  CHECK(routes[1].method == "GET");
  CHECK(routes[1].pattern == "/api/v1/devices/history");
}

TEST_CASE("router: 404, 405 with Allow, HEAD falls back to GET") {
  Router router;
  router.add_sync("GET", "/devices", echo("list"));
  router.add_sync("POST", "/devices", echo("create"));
  router.add_sync("delete", "/devices/{id}", echo("delete"));

  auto r404 = call(router, "GET", "/nothing");
  CHECK(r404.status == 404);
  CHECK(r404.body == R"({"detail":"Not Found"})");
  CHECK(r404.headers.get("content-type") == "application/json");

  auto r405 = call(router, "PUT", "/devices");
  CHECK(r405.status == 405);
  CHECK(r405.body == R"({"detail":"Method Not Allowed"})");
  CHECK(r405.headers.get("Allow") == "GET, HEAD, POST");

  CHECK(call(router, "DELETE", "/devices/7").body == "delete id=7");
  CHECK(call(router, "HEAD", "/devices").body == "list");
  CHECK(call(router, "GET", "/devices/7").status == 405);
}

TEST_CASE("router: percent-decoded parameters and query") {
  Router router;
  router.add_sync("GET", "/devices/{id}", echo("device"));
  Request seen;
  auto r = call(router, "GET", "/devices/a%20b%2Fc?name=x+y&q=%26%3D&flag&name2=%zz&dup=1&dup=2", &seen);
  CHECK(r.body == "device id=a b/c");
  CHECK(seen.path == "/devices/a b/c");
  CHECK(seen.query_string == "name=x+y&q=%26%3D&flag&name2=%zz&dup=1&dup=2");
  CHECK(seen.query_param("name") == "x y");
  CHECK(seen.query_param("q") == "&=");
  CHECK(seen.query_param("flag") == "");
  CHECK(seen.query_param("name2") == "%zz");
  CHECK(seen.query_param("dup") == "2");
  CHECK_FALSE(seen.query_param("missing").has_value());

  CHECK(percent_encode("a b/c&d~") == "a%20b%2Fc%26d~");
  CHECK(percent_decode(percent_encode("ünï cödé/?")) == "ünï cödé/?");
}

TEST_CASE("router: middleware wraps every handler, handler exceptions become 500") {
  Router router;
  std::vector<std::string> order;
  router.use([&](const Request& r, Reply reply, const Handler& next) {
    order.push_back("metrics:" + r.route);
    next(r, [reply](Response res) {
      res.headers.set("X-Wrapped", "yes");
      reply(std::move(res));
    });
  });
  router.use([&](const Request& r, Reply reply, const Handler& next) {
    order.push_back("auth");
    if (!r.header("authorization")) return reply(Response::error(401, "Not authenticated"));
    next(r, std::move(reply));
  });
  router.add_sync("GET", "/devices/{id}", echo("device"));
  router.add_sync("GET", "/boom", [](const Request&) -> Response { throw std::runtime_error("kaputt"); });
  router.add("GET", "/twice", [](const Request&, Reply reply) {
    reply(Response::text(200, "first"));
    reply(Response::text(200, "second"));
  });

  auto denied = call(router, "GET", "/devices/1");
  CHECK(denied.status == 401);
  CHECK(denied.headers.get("x-wrapped") == "yes");
  CHECK(order == std::vector<std::string>{"metrics:/devices/{id}", "auth"});

  Request req;
  req.method = "GET";
  req.target = "/devices/1";
  req.headers.set("Authorization", "Bearer x");
  parse_target(req);
  std::optional<Response> out;
  router.dispatch(req, [&](Response r) { out = std::move(r); });
  REQUIRE(out);
  CHECK(out->body == "device id=1");
  CHECK(out->headers.get("X-WRAPPED") == "yes");

  req.target = "/boom";
  parse_target(req);
  int calls = 0;
  router.dispatch(req, [&](Response r) {
    ++calls;
    out = std::move(r);
  });
  CHECK(calls == 1);
  CHECK(out->status == 500);
  CHECK(out->body == R"({"detail":"Internal Server Error"})");

  req.target = "/twice";
  parse_target(req);
  calls = 0;
  router.dispatch(req, [&](Response r) {
    ++calls;
    out = std::move(r);
  });
  CHECK(calls == 1);
  CHECK(out->body == "first");
}

TEST_CASE("messages: headers, responses, URLs") {
  Headers h;
  h.add("Set-Cookie", "a=1");
  h.add("set-cookie", "b=2");
  h.add("X-Other", "x");
  CHECK(h.size() == 3);
  CHECK(h.get("SET-COOKIE") == "a=1");
  h.set("Set-Cookie", "c=3");
  CHECK(h.size() == 2);
  CHECK(h.begin()->second == "c=3");
  CHECK(h.remove("x-other") == 1);
  CHECK_FALSE(h.get("X-Other"));

  auto e = Response::from_error(dm::make_error(Errc::not_found, "device \"d1\" not found"));
  CHECK(e.status == 404);
  CHECK(e.body == R"({"detail":"device \"d1\" not found"})");

  auto u = parse_url("HTTPS://Example.com");
  REQUIRE(u.ok());
  CHECK(u->scheme == "https");
  CHECK(u->port == 443);
  CHECK(u->target == "/");
  u = parse_url("http://[::1]:8080/a/b?c=d#frag");
  REQUIRE(u.ok());
  CHECK(u->host == "::1");
  CHECK(u->port == 8080);
  CHECK(u->target == "/a/b?c=d");
  u = parse_url("http://host?x=1");
  REQUIRE(u.ok());
  CHECK(u->target == "/?x=1");
  for (const char* bad : {"ftp://host/", "host:80", "http://", "http://host:0/", "http://host:99999",
                          "http://user:pw@host/", "http://host/a b"}) {
    auto r = parse_url(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("server: GET and POST over one keep-alive connection") {
  auto router = std::make_shared<Router>();
  router->add_sync("GET", "/api/v1/devices/{id}", [](const Request& r) {
    return Response::json(
        200, "{\"id\":\"" + r.params.at("id") + "\",\"skip\":\"" + r.query_param("skip").value_or("") + "\"}");
  });
  router->add_sync("POST", "/api/v1/devices", [](const Request& r) {
    auto resp = Response::json(201, r.body);
    resp.headers.set("X-Content-Type-Seen", r.header("content-type").value_or(""));
    resp.headers.set("X-Remote", r.remote_address);
    return resp;
  });
  TestServer ts(router);
  auto client = make_client(ts.url());

  auto r1 = client->get("/api/v1/devices/d%201?skip=5");
  REQUIRE(r1.ok());
  CHECK(r1->status == 200);
  CHECK(r1->body == R"({"id":"d 1","skip":"5"})");
  CHECK(r1->headers.get("Content-Type") == "application/json");
  CHECK(r1->headers.get("Content-Length") == std::to_string(r1->body.size()));
  CHECK(r1->headers.get("Server") == "device-manager");

  auto r2 = client->post("/api/v1/devices", R"({"name":"x"})");
  REQUIRE(r2.ok());
  CHECK(r2->status == 201);
  CHECK(r2->body == R"({"name":"x"})");
  CHECK(r2->headers.get("X-Content-Type-Seen") == "application/json");
  CHECK(r2->headers.get("X-Remote") == "127.0.0.1");

  auto r3 = client->request("HEAD", "/api/v1/devices/d1");
  REQUIRE(r3.ok());
  CHECK(r3->status == 200);
  CHECK(r3->body.empty());
  CHECK(r3->headers.get("Content-Length") == "21");  // {"id":"d1","skip":""}

  auto r4 = client->get("/nowhere");
  REQUIRE(r4.ok());
  CHECK(r4->status == 404);

  CHECK(client->connections_opened() == 1);
  auto stats = ts.server->stats();
  CHECK(stats.total_connections == 1);
  CHECK(stats.active_connections == 1);
  CHECK(stats.requests == 4);

  // A one-shot fetch opens its own connection.
  auto f = fetch("GET", ts.url() + "/api/v1/devices/z");
  REQUIRE(f.ok());
  CHECK(f->body == R"({"id":"z","skip":""})");
}

TEST_CASE("server: async reply from another thread, dropped reply, throwing handler") {
  auto router = std::make_shared<Router>();
  std::vector<std::thread> workers;
  std::mutex mu;
  router->add("GET", "/slow/{n}", [&](const Request& r, Reply reply) {
    std::lock_guard lock(mu);
    workers.emplace_back([n = r.params.at("n"), reply = std::move(reply)] {
      std::this_thread::sleep_for(50ms);
      reply(Response::text(200, "slow " + n));
    });
  });
  router->add("GET", "/dropped", [](const Request&, Reply) {});
  router->add_sync("GET", "/throws", [](const Request&) -> Response { throw std::logic_error("bug"); });
  TestServer ts(router);
  auto client = make_client(ts.url());

  auto t0 = std::chrono::steady_clock::now();
  auto r = client->get("/slow/1");
  REQUIRE(r.ok());
  CHECK(r->body == "slow 1");
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);

  auto dropped = client->get("/dropped");
  REQUIRE(dropped.ok());
  CHECK(dropped->status == 500);

  auto thrown = client->get("/throws");
  REQUIRE(thrown.ok());
  CHECK(thrown->status == 500);
  CHECK(thrown->headers.get("Content-Type") == "application/json");
  CHECK(thrown->body == R"({"detail":"Internal Server Error"})");

  // The connection survived all of that.
  auto again = client->get("/slow/2");
  REQUIRE(again.ok());
  CHECK(again->body == "slow 2");
  CHECK(client->connections_opened() == 1);

  ts.server->stop();
  for (auto& w : workers) w.join();
}

TEST_CASE("server: concurrent clients on several io threads") {
  auto router = std::make_shared<Router>();
  router->add_sync("POST", "/echo", [](const Request& r) { return Response::text(200, r.body); });
  ServerOptions opt;
  opt.threads = 2;
  TestServer ts(router, opt);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto c = Client::create(ts.url());
      if (!c.ok()) return;
      for (int i = 0; i < 25; ++i) {
        std::string body =
            std::to_string(t) + ":" + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 100, 'x');
        auto r = (*c)->post("/echo", body, "text/plain");
        if (r.ok() && r->status == 200 && r->body == body) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(good == 100);
  CHECK(ts.server->stats().total_connections == 4);
  CHECK(ts.server->stats().requests == 100);
}

TEST_CASE("server: body over the limit is 413, malformed request is 400") {
  auto router = std::make_shared<Router>();
  router->add_sync("POST", "/upload",
                   [](const Request& r) { return Response::text(200, std::to_string(r.body.size())); });
  ServerOptions opt;
  opt.body_limit = 1024;
  TestServer ts(router, opt);
  auto client = make_client(ts.url());

  auto small = client->post("/upload", std::string(1024, 'a'), "text/plain");
  REQUIRE(small.ok());
  CHECK(small->body == "1024");

  auto big = client->post("/upload", std::string(4 << 20, 'a'), "text/plain");
  REQUIRE(big.ok());
  CHECK(big->status == 413);
  CHECK(big->headers.get("Content-Type") == "application/json");
  CHECK(big->body == R"({"detail":"Request body too large: limit is 1024 bytes"})");
  CHECK(big->headers.get("Connection") == "close");

  // Chunked bodies are counted too.
  auto chunked = raw_exchange(ts.server->port(),
                              "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "800\r\n" +
                                  std::string(0x800, 'b') + "\r\n0\r\n\r\n");
  CHECK(chunked.rfind("HTTP/1.1 413", 0) == 0);

  // The client reconnects after the server closed.
  auto after = client->post("/upload", "xyz", "text/plain");
  REQUIRE(after.ok());
  CHECK(after->body == "3");

  auto bad = raw_exchange(ts.server->port(), "NOT A VALID REQUEST\r\n\r\n");
  CHECK(bad.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(bad.find("Connection: close") != std::string::npos);
  CHECK(bad.find("{\"detail\":\"Bad Request") != std::string::npos);
  CHECK(bad.find("Content-Length: ") != std::string::npos);

  auto no_host_garbage = raw_exchange(ts.server->port(), "GET /upload HTTP/1.1\r\nBad Header Line\r\n\r\n");
  CHECK(no_host_garbage.rfind("HTTP/1.1 400", 0) == 0);

  auto huge_header =
      raw_exchange(ts.server->port(), "GET / HTTP/1.1\r\nX-Big: " + std::string(64 << 10, 'h') + "\r\n\r\n");
  CHECK(huge_header.rfind("HTTP/1.1 431", 0) == 0);

  // Expect: 100-continue is answered before the body is sent.
  auto cont = raw_exchange(ts.server->port(),
                           "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
                           "Connection: close\r\n\r\n",
                           3s, "hello");
  CHECK(cont.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 0) == 0);
  CHECK(cont.substr(cont.size() - 1) == "5");

  // HTTP/1.0 without keep-alive is answered and closed.
  auto old = raw_exchange(ts.server->port(), "POST /upload HTTP/1.0\r\nContent-Length: 2\r\n\r\nab");
  CHECK(old.rfind("HTTP/1.0 200 OK", 0) == 0);
}

TEST_CASE("server: timeouts close connections, the client reconnects") {
  auto router = std::make_shared<Router>();
  router->add_sync("GET", "/ping", [](const Request&) { return Response::text(200, "pong"); });
  ServerOptions opt;
  opt.read_timeout = 300ms;
  opt.idle_timeout = 200ms;
  TestServer ts(router, opt);

  // A request that never completes is dropped after read_timeout without an answer.
  auto t0 = std::chrono::steady_clock::now();
  auto partial = raw_exchange(ts.server->port(), "GET /ping HTTP/1.1\r\nHost: x\r\n", 3s);
  CHECK(partial.empty());
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);

  auto client = make_client(ts.url());
  REQUIRE(client->get("/ping").ok());
  // The server closes the idle connection after idle_timeout.
  REQUIRE(dm::testing::eventually([&] { return ts.server->stats().active_connections == 0; }, 5s));
  auto r = client->get("/ping");
  REQUIRE(r.ok());
  CHECK(r->body == "pong");
  CHECK(client->connections_opened() == 2);
}

TEST_CASE("client: refused connection, request timeout, port in use") {
  int closed_port = dm::testing::free_port();
  auto refused = fetch("GET", "http://127.0.0.1:" + std::to_string(closed_port) + "/");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::unavailable);

  auto router = std::make_shared<Router>();
  ParkedReplies parked(*router, "/never");
  {
    TestServer ts(router);
    ClientOptions copt;
    copt.request_timeout = 300ms;
    auto client = make_client(ts.url(), copt);
    auto t0 = std::chrono::steady_clock::now();
    auto r = client->get("/never");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::timeout);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);

    Server second(ServerOptions{.host = "127.0.0.1", .port = ts.server->port()}, router);
    auto taken = second.start();
    REQUIRE_FALSE(taken.ok());
    CHECK(taken.error().code == Errc::unavailable);
    CHECK(taken.error().message.find("in use") != std::string::npos);

    ts.server->stop(100ms);
  }
  // Replies after the server is gone are dropped quietly.
  std::lock_guard lock(parked.mu);
  REQUIRE(parked.replies.size() == 1);
  parked.replies[0](Response::text(200, "too late"));
  parked.replies.clear();
}

TEST_CASE("server: stop() lets an in-flight request finish") {
  auto router = std::make_shared<Router>();
  std::atomic<bool> entered{false};
  std::atomic<bool> replied{false};
  std::thread worker;
  router->add("GET", "/work", [&](const Request&, Reply reply) {
    entered = true;
    worker = std::thread([&replied, reply = std::move(reply)] {
      std::this_thread::sleep_for(300ms);
      replied = true;
      reply(Response::text(200, "done"));
    });
  });
  TestServer ts(router);
  auto idle_client = make_client(ts.url());
  REQUIRE(idle_client->get("/nothing").ok());  // an idle keep-alive connection, closed at once by stop()

  auto in_flight = std::async(std::launch::async, [url = ts.url()] { return fetch("GET", url + "/work"); });
  while (!entered) std::this_thread::sleep_for(5ms);
  auto t0 = std::chrono::steady_clock::now();
  ts.server->stop(5s);
  auto took = std::chrono::steady_clock::now() - t0;
  auto r = in_flight.get();
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == "done");
  CHECK(r->headers.get("Connection") == "close");
  CHECK(replied);  // stop() waited for the reply (set just before it), however late it began
  CHECK(took < 3s);
  CHECK(ts.server->stats().active_connections == 0);
  worker.join();

  // Nothing listens any more.
  auto after = idle_client->get("/nothing");
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().code == Errc::unavailable);
}

TEST_CASE("client: HTTPS with certificate verification") {
  dm::testing::TempDir dir("dm-http-tls");
  auto gen = dm::testing::run_command(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
      " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      dir.path() + "/key.pem -out " + dir.path() + "/cert.pem 2>&1");
  REQUIRE(gen.exit_code == 0);
  const std::string pem = dm::testing::read_text(dir.path() + "/cert.pem");
  REQUIRE(pem.find("BEGIN CERTIFICATE") != std::string::npos);

  int port = dm::testing::free_port();
  dm::testing::Process server({"openssl", "s_server", "-accept", std::to_string(port), "-cert",
                               dir.path() + "/cert.pem", "-key", dir.path() + "/key.pem", "-www", "-quiet"},
                              {}, dir.path() + "/s_server.log");
  REQUIRE(dm::testing::wait_for_port(port, 10s));
  const std::string url = "https://127.0.0.1:" + std::to_string(port);

  auto unverified = fetch("GET", url + "/");
  REQUIRE_FALSE(unverified.ok());
  CHECK(unverified.error().code == Errc::forbidden);
  CHECK(unverified.error().message.find("certificate verification failed") != std::string::npos);

  ClientOptions trusted;
  trusted.ca_cert_pem = pem;
  auto client = make_client(url, trusted);
  auto ok = client->get("/");
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
  CHECK_FALSE(ok->body.empty());

  // The name must match too: the certificate does not cover 127.0.0.2.
  auto wrong_name = fetch("GET", "https://127.0.0.2:" + std::to_string(port) + "/", {}, {}, trusted);
  REQUIRE_FALSE(wrong_name.ok());
  CHECK(wrong_name.error().code == Errc::forbidden);
  CHECK(wrong_name.error().message.find("IP address mismatch") != std::string::npos);

  ClientOptions insecure;
  insecure.verify_tls = false;
  auto skipped = fetch("GET", url + "/", {}, {}, insecure);
  REQUIRE(skipped.ok());
  CHECK(skipped->status == 200);

  ClientOptions garbage;
  garbage.ca_cert_pem = "not a certificate";
  auto bad_ca = Client::create(url, garbage);
  REQUIRE_FALSE(bad_ca.ok());
  CHECK(bad_ca.error().code == Errc::invalid_argument);
}

namespace {
// Runs AsyncClient requests and waits for all their answers.
struct AsyncBatch {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<dm::Result<ClientResponse>> results;
  std::size_t expected = 0;

  AsyncClient::Done done() {
    return [this](dm::Result<ClientResponse> r) {
      std::lock_guard lock(mu);
      results.push_back(std::move(r));
      cv.notify_all();
    };
  }
  void wait(std::size_t n) {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return results.size() >= n; }));
  }
};
}  // namespace

TEST_CASE("async client: many requests in flight, keep-alive pooled per key, errors as the blocking client's") {
  auto router = std::make_shared<Router>();
  router->add_sync("POST", "/echo", [](const Request& r) { return Response::text(200, r.body); });
  ParkedReplies parked(*router, "/never");
  TestServer ts(router);
  AsyncClient client;

  // 200 requests at once, one pool: each gets its own answer, over far fewer connections.
  AsyncBatch batch;
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    client.request("a", "v1", {}, "POST", ts.url() + "/echo", "body-" + std::to_string(i), {}, batch.done());
  }
  batch.wait(kRequests);
  std::set<std::string> bodies;
  for (auto& r : batch.results) {
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    bodies.insert(r->body);
  }
  CHECK(bodies.size() == kRequests);
  auto opened = client.connections_opened();
  CHECK(opened >= 1);

  // Sequential requests reuse one idle connection.
  for (int i = 0; i < 5; ++i) {
    AsyncBatch one;
    client.request("a", "v1", {}, "POST", ts.url() + "/echo", "again", {}, one.done());
    one.wait(1);
    REQUIRE(one.results[0].ok());
  }
  CHECK(client.connections_opened() == opened);

  // A changed configuration drops the pool's connections.
  AsyncBatch changed;
  client.request("a", "v2", {}, "POST", ts.url() + "/echo", "changed", {}, changed.done());
  changed.wait(1);
  REQUIRE(changed.results[0].ok());
  CHECK(client.connections_opened() == opened + 1);

  // Timeouts, refused connections, refused destinations and malformed requests.
  AsyncBatch errors;
  ClientOptions quick;
  quick.request_timeout = 300ms;
  client.request("slow", "v1", quick, "GET", ts.url() + "/never", "", {}, errors.done());
  client.request("closed", "v1", {}, "GET", "http://127.0.0.1:" + std::to_string(dm::testing::free_port()) + "/", "",
                 {}, errors.done());
  ClientOptions guarded;
  guarded.outbound = OutboundPolicy{};
  client.request("guarded", "v1", guarded, "GET", ts.url() + "/echo", "", {}, errors.done());
  client.request("bad", "v1", {}, "GET", "ftp://example.com/", "", {}, errors.done());
  errors.wait(4);
  std::multiset<Errc> codes;
  for (auto& r : errors.results) {
    REQUIRE_FALSE(r.ok());
    codes.insert(r.error().code);
  }
  CHECK(codes == std::multiset<Errc>{Errc::timeout, Errc::unavailable, Errc::forbidden, Errc::invalid_argument});

  std::lock_guard lock(parked.mu);
  parked.replies.clear();
}

TEST_CASE("outbound guard: every special range, in every spelling, and public neighbours") {
  struct Case {
    const char* address;
    const char* why;  // a word of the reason; nullptr: public, allowed
  };
  const Case cases[] = {
      // IPv4 special-purpose space, in the lenient spellings connect() accepts too.
      {"0.0.0.0", "unspecified"},
      {"0.1.2.3", "unspecified"},
      {"10.1.2.3", "private"},
      {"100.64.0.1", "CGNAT"},
      {"100.127.255.254", "CGNAT"},
      {"127.0.0.1", "loopback"},
      {"127.1", "loopback"},
      {"0x7f000001", "loopback"},
      {"2130706433", "loopback"},
      {"0177.0.0.1", "loopback"},
      {"169.254.169.254", "link-local"},
      {"172.16.0.1", "private"},
      {"172.31.255.255", "private"},
      {"192.0.0.8", "IETF"},
      {"192.0.2.1", "documentation"},
      {"192.88.99.1", "6to4 relay"},
      {"192.168.1.1", "private"},
      {"198.18.0.1", "benchmarking"},
      {"198.19.255.255", "benchmarking"},
      {"198.51.100.7", "documentation"},
      {"203.0.113.5", "documentation"},
      {"224.0.0.1", "multicast"},
      {"239.255.255.250", "multicast"},
      {"240.0.0.1", "reserved"},
      {"255.255.255.255", "broadcast"},
      // IPv6 special-purpose space.
      {"::", "unspecified"},
      {"[::]", "unspecified"},
      {"::1", "loopback"},
      {"[0:0:0:0:0:0:0:1]", "loopback"},
      {"fe80::1", "link-local"},
      {"febf::1", "link-local"},
      {"fec0::1", "site-local"},
      {"fc00::1", "unique local"},
      {"fd12:3456::1", "unique local"},
      {"ff02::1", "multicast"},
      {"2001:db8::1", "documentation"},
      {"3fff::1", "documentation"},
      {"2001::1", "Teredo"},
      {"2001:0:4136:e378::1", "Teredo"},
      {"2001:2::1", "IETF"},
      {"100::1", "discard"},
      {"64:ff9b:1::a00:1", "NAT64 local"},
      // IPv4 inside IPv6: mapped, translated and compatible forms are refused whatever they carry.
      {"::ffff:127.0.0.1", "127.0.0.1, loopback"},
      {"[::ffff:7f00:1]", "127.0.0.1, loopback"},
      {"[::ffff:0:7f00:1]", "127.0.0.1, loopback"},
      {"::ffff:0:127.0.0.1", "127.0.0.1, loopback"},
      {"::ffff:0:a9fe:a9fe", "169.254.169.254, link-local"},
      {"::127.0.0.1", "loopback"},
      {"::ffff:93.184.216.34", "IPv4-mapped"},
      {"::ffff:0:93.184.216.34", "IPv4-translated"},
      {"::93.184.216.34", "IPv4-compatible"},
      // NAT64 and 6to4: refused when what they carry is.
      {"64:ff9b::a00:1", "10.0.0.1, private"},
      {"64:ff9b::7f00:1", "loopback"},
      {"2002:7f00:1::", "127.0.0.1, loopback"},
      {"2002:c0a8:101::1", "192.168.1.1, private"},
      {"64:ff9b::5db8:d822", nullptr},
      {"2002:5db8:d822::1", nullptr},
      // Public neighbours of the refused ranges.
      {"93.184.216.34", nullptr},
      {"100.63.255.255", nullptr},
      {"100.128.0.1", nullptr},
      {"172.32.0.1", nullptr},
      {"192.0.3.1", nullptr},
      {"198.20.0.1", nullptr},
      {"198.51.101.1", nullptr},
      {"203.0.114.1", nullptr},
      {"223.255.255.255", nullptr},
      {"2001:4860:4860::8888", nullptr},
      {"2001:200::1", nullptr},
      {"2a00:1450::1", nullptr},
  };
  for (const auto& c : cases) {
    INFO(c.address);
    auto ip = parse_ip(c.address);
    REQUIRE(ip);
    auto why = special_range(*ip);
    if (!c.why) {
      CHECK_FALSE(why);
      continue;
    }
    REQUIRE(why);
    INFO(*why);
    CHECK(why->find(c.why) != std::string::npos);
    // The same address as a URL's host is refused at save, with the reason.
    std::string host = ip->v6 ? "[" + ip->text() + "]" : std::string(c.address);
    auto saved = check_outbound_url(OutboundPolicy{}, "http://" + host + ":8080/x");
    REQUIRE_FALSE(saved.ok());
    CHECK(saved.error().code == Errc::forbidden);
    CHECK_FALSE(check_outbound_host(OutboundPolicy{}, c.address, 1883).ok());
  }
}

TEST_CASE("outbound guard: allow-lists, host checks and names that do not resolve") {
  auto allow = OutboundPolicy::parse("127.0.0.1, 10.0.0.0/8, broker.internal, fd00::/8");
  REQUIRE(allow.ok());
  CHECK(check_outbound_host(*allow, "127.0.0.1", 1883).ok());
  CHECK(check_outbound_host(*allow, "[::ffff:127.0.0.1]", 1883).ok());  // the mapped form of an allowed address
  CHECK(check_outbound_host(*allow, "10.9.9.9", 1883).ok());
  CHECK(check_outbound_host(*allow, "fd00::5", 1883).ok());
  CHECK_FALSE(check_outbound_host(*allow, "127.0.0.2", 1883).ok());
  CHECK(check_outbound_host(OutboundPolicy{}, "localhost", 1883).error().code == Errc::forbidden);
  // A name that does not resolve yet passes at save; the sender checks again on every connect.
  CHECK(check_outbound_host(OutboundPolicy{}, "no-such-host.invalid", 1883).ok());
}

TEST_CASE("outbound guard: only a PostgreSQL URL's authority names the server") {
  auto target = postgres_target("postgresql://u:p%40ss@db.example.com:6543/metrics?sslmode=require&application_name=x");
  REQUIRE(target.ok());
  CHECK(target->host == "db.example.com");
  CHECK(target->port == 6543);
  CHECK(postgres_target("postgres://u@[2001:4860::1]/db").value().host == "2001:4860::1");
  CHECK(postgres_target("postgresql://u@93.184.216.34/db").value().port == 5432);
  CHECK(postgres_target("postgresql://u@h%2Eexample.com/db").value().host == "h.example.com");

  for (const char* url : {
           "postgresql://u:p@93.184.216.34/db?hostaddr=127.0.0.1&port=55432",  // the finding
           "postgresql://u:p@93.184.216.34/db?host=127.0.0.1",
           "postgresql://u:p@93.184.216.34/db?port=55432",
           "postgresql://u:p@93.184.216.34/db?host%61ddr=127.0.0.1",  // libpq decodes keys
           "postgresql://u:p@93.184.216.34/db?service=internal",
           "postgresql://u:p@93.184.216.34/db?servicefile=/etc/pg_service.conf",
           "postgresql://u:p@93.184.216.34/db?passfile=/root/.pgpass",
           "postgresql://u:p@93.184.216.34/db?sslkey=/etc/dm/key.pem",
           "postgresql://u:p@93.184.216.34/db?sslrootcert=/etc/ssl/ca.pem",
           "postgresql://u:p@h1,h2/db",
           "postgresql://u:p@93.184.216.34:5432,127.0.0.1:5432/db",
           "postgresql://u:p@93.184.216.34:5432%2C127.0.0.1/db",
           "postgresql://u:p@%2Fvar%2Frun%2Fpostgresql/db",
           "postgresql://u:p@/db",
           "postgresql:///db",
           "postgresql://u:p@h%2C127.0.0.1/db",
           "postgresql://93.184.216.34?x=@127.0.0.1/db",  // libpq's userinfo ends at the first '@', '?' or not
           "postgresql://u:a@b@127.0.0.1/db",
           "postgresql://u:p@host:0/db",
           "postgresql://u:p@host:99999/db",
           "postgresql://u:p@host:5432x/db",
           "mysql://u:p@host/db",
           "host=h dbname=db",
       }) {
    INFO(url);
    auto r = postgres_target(url);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
  }
  CHECK(check_postgres_url(OutboundPolicy{}, "postgresql://u:p@203.0.113.5/db").error().code == Errc::forbidden);
  CHECK(check_postgres_url(OutboundPolicy{}, "postgresql://u:p@[::ffff:0:7f00:1]:5432/db").error().code ==
        Errc::forbidden);
  CHECK(check_postgres_url(OutboundPolicy{}, "postgresql://u:p@localhost/db").error().code == Errc::forbidden);
  CHECK(check_postgres_url(OutboundPolicy{}, "postgresql://u:p@93.184.216.34/db").ok());
}
