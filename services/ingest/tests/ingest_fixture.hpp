#pragma once
// A real stack per test executable (NATS, PostgreSQL, registry, gateway, ingest) and helpers:
// webhooks posted to ingest's own port, REST calls through the gateway (logged in as an admin
// when the gateway has users), NATS subscribers that count what ingest published.
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
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

inline const std::string kSecret = "ingest-test-secret-0123456789";

using Reply = testing::ApiReply;

inline Reply to_reply(const Result<http::ClientResponse>& r) {
  REQUIRE(r.ok());
  return testing::api_reply(*r);
}

inline std::string fixture(const std::string& name) {
  std::ifstream in(std::string(DM_INGEST_FIXTURES) + "/" + name);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A v4 uplink for `dev_eui` with its own deduplicationId.
inline std::string uplink(const std::string& dev_eui, const std::string& dedup_id, int f_cnt = 1,
                          const std::string& name = "dev") {
  return R"({"deduplicationId":")" + dedup_id +
         R"(","time":"2026-11-27T10:00:00.123456789+00:00",)"
         R"("deviceInfo":{"tenantId":"t","tenantName":"T","applicationId":"a","applicationName":"A",)"
         R"("deviceProfileId":"p","deviceProfileName":"P","deviceName":")" +
         name + R"(","devEui":")" + dev_eui + R"(","tags":{}},"devAddr":"00189440","dr":5,"fCnt":)" +
         std::to_string(f_cnt) +
         R"(,"fPort":2,"data":"AQID","object":{"t":21.5},"rxInfo":[{"gatewayId":"0016c001f153a14c","rssi":-40,"snr":9.5}],)"
         R"("txInfo":{"frequency":868100000}})";
}

inline std::string status_event(const std::string& dev_eui, const std::string& dedup_id, double battery) {
  return R"({"deduplicationId":")" + dedup_id + R"(","deviceInfo":{"devEui":")" + dev_eui +
         R"("},"margin":7,"batteryLevel":)" + std::to_string(battery) + "}";
}

// Counts messages on a subject (wildcards allowed) from its own NATS connection.
class Counter : public testing::MessageCollector {
 public:
  Counter(testing::Stack& s, const std::string& subject) : MessageCollector(s.nats().url(), subject) {}
};

// Posts webhooks to ingest's own port.
class Webhook {
 public:
  explicit Webhook(testing::Stack& s) {
    auto c = http::Client::create(s.url("ingest"));
    REQUIRE(c.ok());
    client_ = std::move(c).value();
  }
  Reply post(const std::string& body, const std::string& event = "up", http::Headers headers = {}) {
    if (!headers.contains("Authorization") && !headers.contains("X-API-Key") && !headers.contains("X-No-Auth"))
      headers.set("Authorization", "Bearer " + kSecret);
    headers.remove("X-No-Auth");
    if (!headers.contains("Content-Type")) headers.set("Content-Type", "application/json");
    std::string target = "/api/v1/ingest/chirpstack" + (event.empty() ? std::string() : "?event=" + event);
    return to_reply(client_->request("POST", target, body, headers));
  }
  Reply get(const std::string& target) { return to_reply(client_->request("GET", target)); }

 private:
  std::unique_ptr<http::Client> client_;
};

// REST through the gateway, as an admin when the gateway has users.
class Api {
 public:
  explicit Api(testing::Stack& s) {
    auto c = http::Client::create(s.url("gateway"));
    REQUIRE(c.ok());
    client_ = std::move(c).value();
    // The gateway may not have users yet (public routes only): then no token is needed.
    auto token = testing::admin_token(s);
    if (token) auth_ = *token;
  }
  Reply call(const std::string& method, const std::string& target, const std::string& body = {}) {
    http::Headers h;
    if (!body.empty()) h.set("Content-Type", "application/json");
    if (!auth_.empty()) h.set("Authorization", "Bearer " + auth_);
    return to_reply(client_->request(method, target, body, h));
  }
  Reply get(const std::string& t) { return call("GET", t); }
  Reply post(const std::string& t, const std::string& b) { return call("POST", t, b); }
  Reply patch(const std::string& t, const std::string& b) { return call("PATCH", t, b); }

  // Registers a device; returns its id.
  std::string create_device(const std::string& dev_eui, const std::string& name, int expected_transmit_time = 0) {
    std::string body = R"({"dev_eui":")" + dev_eui + R"(","name":")" + name + "\"";
    if (expected_transmit_time > 0) body += ",\"expected_transmit_time\":" + std::to_string(expected_transmit_time);
    body += "}";
    auto r = post("/api/v1/devices", body);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.str("id");
  }

 private:
  std::unique_ptr<http::Client> client_;
  std::string auth_;
};

using dm::testing::eventually;

// Unique 16-hex-digit DevEUIs per test run.
inline std::string new_eui() {
  static std::atomic<int> n{0};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", static_cast<unsigned>(::getpid()), static_cast<unsigned>(++n));
  return buf;
}

}  // namespace dm::test
