#pragma once
// One real stack per test executable (NATS, PostgreSQL, registry, gateway, dispatcher) with
// fast retries, a REST client over the gateway, a JetStream publisher for jobs (there is no
// orchestrator yet), and dm-sink receivers.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "dm/bus/bus.hpp"
#include "dm/http/client.hpp"
#include "dm/json/json.hpp"
#include "dm/testing/api.hpp"
#include "dm/testing/collector.hpp"
#include "dm/testing/stack.hpp"

namespace dm::test {

// A test file may define DM_DISPATCH_STACK_ENV (settings that replace or add to these) before
// including this.
#ifndef DM_DISPATCH_STACK_ENV
#define DM_DISPATCH_STACK_ENV \
  {"DISPATCHER_MAX_ATTEMPTS", "3"}, { "DISPATCHER_BREAKER_THRESHOLD", "1000" }
#endif

inline std::map<std::string, std::string> stack_env() {
  std::map<std::string, std::string> env = {
      {"REGISTRY_OUTBOUND_ALLOW", "127.0.0.0/8"},  // the registry lets loopback through...
      {"DISPATCHER_OUTBOUND_ALLOW", "127.0.0.1"},  // ...the dispatcher only 127.0.0.1
      {"DISPATCHER_RETRY_BASE", "200ms"},         {"DISPATCHER_RETRY_CAP", "2s"}, {"DISPATCHER_ACK_WAIT", "3s"},
      {"DISPATCHER_TARGET_QUEUE", "20"}};
  for (const auto& [key, value] : std::map<std::string, std::string>{DM_DISPATCH_STACK_ENV}) env[key] = value;
  return env;
}

inline testing::Stack& stack() {
  static testing::Stack s({"registry", "gateway", "integration-dispatcher"}, stack_env());
  return s;
}

using Reply = testing::ApiReply;

// Calls go through the gateway as an admin (created with dm-admin, logged in once).
inline Reply call(const std::string& method, const std::string& target, const std::string& body = {}) {
  static std::unique_ptr<http::Client> client = [] {
    auto c = http::Client::create(stack().url("gateway"), {.request_timeout = std::chrono::seconds(90)});
    REQUIRE(c.ok());
    return std::move(c).value();
  }();
  static const std::string token = [] {
    auto t = testing::admin_token(stack());
    INFO((t ? std::string() : t.error().message));
    REQUIRE(t.ok());
    return *t;
  }();
  http::Headers headers;
  headers.set("Authorization", "Bearer " + token);
  if (!body.empty()) headers.set("Content-Type", "application/json");
  auto r = client->request(method, target, body, headers);
  INFO(method << " " << target);
  REQUIRE(r.ok());
  return testing::api_reply(*r);
}

inline std::string unique(const std::string& prefix) {
  static int n = 0;
  return prefix + "-" + std::to_string(++n) + "-" + std::to_string(::getpid());
}

// Creates an integration or storage; returns its id.
inline std::string create(const std::string& plural, const std::string& type, const std::string& config) {
  auto r = call("POST", "/api/v1/" + plural,
                R"({"name":")" + unique(type) + R"(","type":")" + type + R"(","config":)" + config + "}");
  INFO(r.body);
  REQUIRE(r.status == 201);
  return r.str("id");
}

inline bus::Connection& nats() {
  static std::shared_ptr<bus::Connection> c = [] {
    auto conn = bus::Connection::connect({.url = stack().nats().url(), .name = "dispatcher-test"});
    REQUIRE(conn.ok());
    return std::move(conn).value();
  }();
  return *c;
}

inline std::string job_json(const std::string& job_id, const std::string& kind, const std::string& target,
                            const std::string& message = R"({"temperature":21.5,"dev_eui":"0004a30b001c0530"})") {
  return R"({"job_id":")" + job_id + R"(","kind":")" + kind + R"(","target_id":")" + target +
         R"(","flow_id":"flow-1","flow_run_id":"run-1","node_id":"node-1","dev_eui":"0004a30b001c0530","message":)" +
         message + R"(,"created_at":"2026-11-27T09:00:00Z"})";
}

inline void publish_job(const std::string& job_id, const std::string& kind, const std::string& target,
                        const std::string& message = R"({"temperature":21.5,"dev_eui":"0004a30b001c0530"})") {
  auto ack = nats().jetstream().publish("dm.work.dispatch." + target, job_json(job_id, kind, target, message), job_id,
                                        std::chrono::seconds(5));
  INFO((ack.ok() ? "" : ack.error().message));
  REQUIRE(ack.ok());
}

using testing::eventually;

// An integration's history rows (at most 1000), of one status or all.
inline std::int64_t count_history(const std::string& id, const std::string& status = {}) {
  auto r =
      call("GET", "/api/v1/integrations/" + id + "/history?limit=1000" + (status.empty() ? "" : "&status=" + status));
  REQUIRE(r.status == 200);
  return static_cast<std::int64_t>(r.json.Size());
}

// One value from the stack's database (as superuser, so any schema), as psql prints it.
inline std::string sql_value(const std::string& query) {
  auto r = stack().pg().psql("device_manager", query);
  INFO(query << ": " << r.output);
  REQUIRE(r.exit_code == 0);
  auto out = r.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The dispatcher's /readyz answer.
inline std::string dispatcher_readiness() {
  auto r = http::fetch("GET", stack().url("integration-dispatcher") + "/readyz");
  return r.ok() ? r->body : r.error().message;
}

// dm-sink on a free port (or a given host).
struct Sink {
  int port;
  std::unique_ptr<testing::Process> proc;
  std::string host;
  explicit Sink(std::vector<std::string> extra = {}, std::string h = "127.0.0.1")
      : port(testing::free_port()), host(h) {
    std::vector<std::string> argv = {testing::binary_dir() + "/tools/dm-sink", "--host", host, "--port",
                                     std::to_string(port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<testing::Process>(argv);
    if (host == "127.0.0.1")
      REQUIRE(testing::wait_for_port(port, std::chrono::seconds(10)));
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::string url(const std::string& path = "/in") const {
    return "http://" + host + ":" + std::to_string(port) + path;
  }
  json::Document stats() const {
    auto r = http::fetch("GET", "http://" + host + ":" + std::to_string(port) + "/_sink/stats");
    REQUIRE(r.ok());
    auto doc = json::parse(r->body);
    REQUIRE(doc.ok());
    return std::move(doc).value();
  }
  std::int64_t stat(const char* key) const { return stats()[key].GetInt64(); }
};

// Whether "localhost" resolves to 127.0.0.1 and nothing else here: the tests that reach a
// loopback server by name need it (the registry allows 127.0.0.0/8, the dispatcher 127.0.0.1,
// and the test servers listen on 127.0.0.1 only); a machine whose localhost is also ::1 skips them.
inline bool localhost_is_127_only() {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo("localhost", nullptr, &hints, &found) != 0) return false;
  bool only = true;
  for (auto* a = found; a; a = a->ai_next) {
    only = only && a->ai_family == AF_INET &&
           reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
  }
  ::freeaddrinfo(found);
  return only;
}

// A bare TCP listener on host:port that counts the connections it accepts: where a destination
// must never be connected to, it proves no connection was made. Each connection goes to
// `serve` (default: closed at once), one at a time.
class Listener {
 public:
  using Serve = std::function<void(int fd)>;
  explicit Listener(const std::string& host, Serve serve = {}) : port_(testing::free_port()), serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        ++accepted_;
        if (serve_) serve_(c);
        ::close(c);
      }
    });
  }
  ~Listener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int port_;
  Serve serve_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Reads one HTTP request from `fd` (headers, then Content-Length bytes of body) and answers
// with `response` as given, byte for byte: what a remote end sends that dm-sink cannot.
inline void answer_with(int fd, const std::string& response) {
  std::string in;
  char buf[65536];
  std::size_t need = std::string::npos;
  while (need == std::string::npos || in.size() < need) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return;
    in.append(buf, static_cast<std::size_t>(n));
    auto end = in.find("\r\n\r\n");
    if (need == std::string::npos && end != std::string::npos) {
      std::size_t length = 0;
      auto cl = in.find("ontent-Length: ");
      if (cl != std::string::npos && cl < end) length = std::stoul(in.substr(cl + 15));
      need = end + 4 + length;
    }
  }
  for (std::size_t sent = 0; sent < response.size();) {
    auto n = ::write(fd, response.data() + sent, response.size() - sent);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace dm::test
