#pragma once
// MQTT delivery on libmosquitto: one persistent connection per integration (reconnecting
// with backoff by the library's own loop thread), publishes with the integration's QoS and
// retain flag; a QoS 1/2 publish is done only when the broker acknowledged it (PUBACK/PUBCOMP).
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dm/http/outbound.hpp"
#include "model.hpp"

namespace dm::dispatcher {

class MqttSender {
 public:
  explicit MqttSender(http::OutboundPolicy policy, std::chrono::milliseconds ack_timeout = std::chrono::seconds(10));
  ~MqttSender();
  // `done` is called once: from the library thread on the broker's ack, or from sweep() on timeout.
  void publish(const Target& target, const Job& job, std::function<void(Outcome)> done);
  // Fails publishes whose ack did not come in time (called periodically).
  void sweep();
  void stop();

 private:
  struct Session;
  std::shared_ptr<Session> session_for(const Target& target, const MqttTarget& m, Outcome& refused);

  http::OutboundPolicy policy_;
  std::chrono::milliseconds ack_timeout_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;  // by target id
};

}  // namespace dm::dispatcher
