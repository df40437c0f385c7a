// MQTT deliveries to a real mosquitto, read back by a real mosquitto_sub; the broker stopped
// for 30 s loses nothing; the circuit breaker shows the integration in error meanwhile and
// lets it resume by itself. Sessions connect to the address the outbound guard checked (a
// refused one never sees a connection) and, over TLS, still verify the broker's name.
#include <unistd.h>

#include <fstream>
#include <iterator>

#define DM_DISPATCH_STACK_ENV \
  {"DISPATCHER_MAX_ATTEMPTS", "20"}, {"DISPATCHER_BREAKER_THRESHOLD", "3"}, { "DISPATCHER_BREAKER_COOLDOWN", "3s" }
#include "dispatch_fixture.hpp"

using namespace dm;
using namespace dm::test;

namespace {

// Persistent: a subscriber's session (and what is queued for it) outlives a restart.
testing::Mosquitto& broker() {
  static testing::Mosquitto m(true);
  return m;
}

std::int64_t delivered(const std::string& id) {
  auto r = call("GET", "/api/v1/integrations/" + id + "/history?status=delivered&limit=1000");
  REQUIRE(r.status == 200);
  return static_cast<std::int64_t>(r.json.Size());
}

std::string mqtt_config(int qos, const std::string& topic = "dm/{dev_eui}/{flow_id}") {
  return R"({"host":"127.0.0.1","port":)" + std::to_string(broker().port()) + R"(,"topic":")" + topic + R"(","qos":)" +
         std::to_string(qos) + "}";
}

}  // namespace

TEST_CASE("MQTT QoS 0, 1 and 2 deliveries reach a subscriber") {
  testing::TempDir dir("dm-mqtt");
  testing::MqttSubscriber sub(broker().port(), "dm/#", dir.path() + "/sub.txt", 2);
  auto q0 = create("integrations", "mqtt", mqtt_config(0));
  auto q1 = create("integrations", "mqtt", mqtt_config(1));
  auto q2 = create("integrations", "mqtt", mqtt_config(2));
  publish_job("mq-0", "integration", q0);
  for (int i = 0; i < 3; ++i) publish_job("mq-1-" + std::to_string(i), "integration", q1);
  publish_job("mq-2", "integration", q2);
  REQUIRE(eventually([&] { return sub.lines().size() >= 5; }));
  CHECK(sub.lines()[0].rfind("dm/0004a30b001c0530/flow-1 {", 0) == 0);
  REQUIRE(eventually([&] { return delivered(q0) == 1 && delivered(q1) == 3 && delivered(q2) == 1; }));
}

TEST_CASE("the broker stopped for 30 seconds and started again: nothing lost, status error then active") {
  auto id = create("integrations", "mqtt", mqtt_config(1, "dm/outage"));
  publish_job("outage-warmup", "integration", id);
  REQUIRE(eventually([&] { return delivered(id) == 1; }));
  // Subscribed before the outage, in a session the broker keeps: what the dispatcher sends
  // after the restart is kept for it even if it reconnects later than the dispatcher.
  testing::TempDir dir("dm-mqtt");
  testing::MqttSubscriber sub(broker().port(), "dm/outage", dir.path() + "/sub.txt", 1,
                              {"-c", "-i", "dm-outage-" + std::to_string(::getpid())});

  broker().stop();
  for (int i = 0; i < 5; ++i) publish_job("outage-" + std::to_string(i), "integration", id);
  // Consecutive failures open the circuit breaker: the registry shows the integration in error.
  REQUIRE(eventually([&] { return call("GET", "/api/v1/integrations/" + id).str("status") == "error"; }));
  CHECK_FALSE(call("GET", "/api/v1/integrations/" + id).str("last_error").empty());
  std::this_thread::sleep_for(std::chrono::seconds(28));
  broker().start();
  REQUIRE(testing::wait_for_port(broker().port(), std::chrono::seconds(10)));
  REQUIRE(eventually([&] { return delivered(id) == 6; }, std::chrono::seconds(60)));
  CHECK(eventually([&] { return sub.lines().size() >= 5; }));
  CHECK(call("GET", "/api/v1/integrations/" + id + "/dead-letters").json.Size() == 0);
  CHECK(eventually([&] { return call("GET", "/api/v1/integrations/" + id).str("status") == "active"; }));
}

namespace {

// A CA and server certificates it signed, for names given (openssl's command line).
class Pki {
 public:
  Pki() { run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=dm-test-ca -keyout ca.key -out ca.pem"); }
  // <name>.pem and <name>.key: a certificate for DNS name `name`.
  void server(const std::string& name) {
    run("openssl req -newkey rsa:2048 -nodes -subj /CN=" + name + " -keyout " + name + ".key -out " + name + ".csr");
    run("printf 'subjectAltName=DNS:" + name + "' > " + name + ".ext");
    run("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile " + name +
        ".ext -out " + name + ".pem");
  }
  std::string path(const std::string& file) const { return dir_.path() + "/" + file; }
  std::string ca_pem() const {
    std::ifstream in(path("ca.pem"));
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  void run(const std::string& command) {
    auto r = testing::run_command("cd " + dir_.path() + " && " + command + " 2>&1");
    INFO(command << ": " << r.output);
    REQUIRE(r.exit_code == 0);
  }
  testing::TempDir dir_{"dm-mqtt-pki"};
};

// mosquitto with one TLS listener on 127.0.0.1, presenting the certificate made for `name`.
class TlsBroker {
 public:
  TlsBroker(const Pki& pki, const std::string& name) : port_(testing::free_port()) {
    std::string conf = dir_.path() + "/mosquitto.conf";
    {
      std::ofstream f(conf);
      f << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
        << "certfile " << pki.path(name + ".pem") << "\nkeyfile " << pki.path(name + ".key") << "\n";
      if (::geteuid() == 0) f << "user root\n";
    }
    proc_ = std::make_unique<testing::Process>(std::vector<std::string>{"mosquitto", "-c", conf},
                                               std::map<std::string, std::string>{}, dir_.path() + "/mosquitto.log");
    REQUIRE(testing::wait_for_port(port_, std::chrono::seconds(10)));
  }
  int port() const { return port_; }

 private:
  testing::TempDir dir_{"dm-mqtt-tls"};
  int port_;
  std::unique_ptr<testing::Process> proc_;
};

std::string tls_config(const std::string& host, int port, const std::string& ca_pem) {
  json::Writer w;
  w.start_object()
      .field("host", host)
      .field("port", port)
      .field("topic", "tls/{dev_eui}")
      .field("qos", 1)
      .field("use_tls", true)
      .field("ca_cert", ca_pem)
      .end_object();
  return w.take();
}

}  // namespace

TEST_CASE("MQTT over TLS goes to the checked address and still verifies the broker's name") {
  if (!localhost_is_127_only()) {
    WARN("skipped: localhost does not resolve to 127.0.0.1 alone here");
    return;
  }
  Pki pki;
  pki.server("localhost");
  pki.server("other.example");
  // The session connects to 127.0.0.1 (what the guard approved for "localhost"); the broker's
  // certificate is checked against the name "localhost", which it holds...
  TlsBroker right(pki, "localhost");
  auto ok_id = create("integrations", "mqtt", tls_config("localhost", right.port(), pki.ca_pem()));
  auto sent = call("POST", "/api/v1/integrations/" + ok_id + "/test");
  INFO(sent.body);
  REQUIRE(sent.status == 200);
  CHECK(sent.json["delivered"].GetBool());
  publish_job("mq-tls-1", "integration", ok_id);
  REQUIRE(eventually([&] { return delivered(ok_id) == 1; }));

  // ...and a broker at the same address whose certificate names another host is refused:
  // connecting by address does not turn the name check off.
  TlsBroker wrong(pki, "other.example");
  auto bad_id = create("integrations", "mqtt", tls_config("localhost", wrong.port(), pki.ca_pem()));
  auto refused = call("POST", "/api/v1/integrations/" + bad_id + "/test");
  INFO(refused.body);
  REQUIRE(refused.status == 200);
  CHECK_FALSE(refused.json["delivered"].GetBool());
  CHECK(std::string(json::view(refused.json["error"])).find("verification failed") != std::string::npos);
  CHECK(std::string(json::view(refused.json["error"])).find("mismatch") != std::string::npos);
  CHECK_FALSE(refused.json["retryable"].GetBool());
}

TEST_CASE("an MQTT broker at a refused address is never connected to, with TLS or without") {
  // The registry allows 127.0.0.0/8, the dispatcher only 127.0.0.1.
  Listener listener("127.0.0.2");
  for (bool tls : {false, true}) {
    auto id = create("integrations", "mqtt",
                     R"({"host":"127.0.0.2","port":)" + std::to_string(listener.port()) +
                         R"(,"topic":"dm/x","qos":1,"use_tls":)" + (tls ? "true" : "false") + "}");
    auto r = call("POST", "/api/v1/integrations/" + id + "/test");
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK_FALSE(r.json["delivered"].GetBool());
    CHECK(std::string(json::view(r.json["error"])).find("not allowed") != std::string::npos);
  }
  CHECK(listener.accepted() == 0);
}
