#include "mqtt_sender.hpp"

#include <mosquitto.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>
#include <unordered_map>

#include "dm/core/log.hpp"
#include "dm/core/text.hpp"
#include "mqtt_tls.hpp"

namespace dm::dispatcher {

using Clock = std::chrono::steady_clock;

namespace {
std::once_flag g_init;
}  // namespace

struct MqttSender::Session {
  struct Pending {
    std::function<void(Outcome)> done;
    Clock::time_point started;
    std::string request;
  };
  std::string connection_key;
  std::unique_ptr<TlsPeer> peer;  // with TLS: the broker's name; outlives tls (declared first)
  TlsContext tls;                 // our reference; libmosquitto holds its own
  mosquitto* mosq = nullptr;
  std::atomic<bool> connected{false};
  std::mutex mutex;
  std::unordered_map<int, Pending> pending;
  std::set<int> early;  // acks that arrived before publish() returned the mid
  std::string last_error = "not connected to the broker yet";

  ~Session() {
    if (mosq) {
      mosquitto_disconnect(mosq);
      mosquitto_loop_stop(mosq, true);
      mosquitto_destroy(mosq);
    }
    fail_all("the MQTT session was closed");
  }

  void fail_all(const std::string& why) {
    std::unordered_map<int, Pending> failed;
    {
      std::lock_guard lock(mutex);
      failed.swap(pending);
      early.clear();
    }
    for (auto& [mid, p] : failed) {
      Outcome o;
      o.error = why;
      o.request = p.request;
      o.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - p.started).count();
      p.done(std::move(o));
    }
  }

  // Why publishing cannot be done now: a refused certificate (permanent: retrying would meet
  // the same certificate), else the connection's last error.
  Outcome not_connected(const MqttTarget& m) {
    Outcome o;
    if (auto why = peer ? peer->refusal() : std::string(); !why.empty()) {
      o.error = "TLS certificate verification failed for " + m.host + ":" + std::to_string(m.port) + ": " + why;
      o.permanent = true;
      return o;
    }
    std::lock_guard lock(mutex);
    o.error = last_error;
    return o;
  }

  void acked(int mid) {
    Pending p;
    {
      std::lock_guard lock(mutex);
      auto it = pending.find(mid);
      if (it == pending.end()) {
        early.insert(mid);
        return;
      }
      p = std::move(it->second);
      pending.erase(it);
    }
    Outcome o;
    o.delivered = true;
    o.request = p.request;
    o.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - p.started).count();
    p.done(std::move(o));
  }

  // A client for `client_id` with the target's settings, and the callbacks that keep
  // `connected`, `last_error` and the pending publishes up to date. False: no client.
  bool create(const std::string& client_id, const MqttTarget& m) {
    mosq = mosquitto_new(client_id.c_str(), true, this);
    if (!mosq) return false;
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(mosq, 1000);
    mosquitto_reconnect_delay_set(mosq, 1, 5, true);  // a restarted broker is found again within seconds
    if (!m.username.empty())
      mosquitto_username_pw_set(mosq, m.username.c_str(), m.password.empty() ? nullptr : m.password.c_str());
    mosquitto_connect_callback_set(mosq, [](mosquitto*, void* obj, int rc) {
      auto* s = static_cast<Session*>(obj);
      s->connected = rc == 0;
      if (rc == 0 && s->peer) s->peer->accepted();
      if (rc != 0) {
        std::lock_guard lock(s->mutex);
        s->last_error = std::string("broker refused the connection: ") + mosquitto_connack_string(rc);
      }
    });
    mosquitto_disconnect_callback_set(mosq, [](mosquitto*, void* obj, int) {
      auto* s = static_cast<Session*>(obj);
      s->connected = false;
      {
        std::lock_guard lock(s->mutex);
        s->last_error = "connection to the broker lost";
      }
      s->fail_all("connection to the broker lost before it acknowledged");
    });
    mosquitto_publish_callback_set(mosq,
                                   [](mosquitto*, void* obj, int mid) { static_cast<Session*>(obj)->acked(mid); });
    return true;
  }

  // Our own TLS context: libmosquitto would check the certificate against the address we
  // connect to, not the broker's name.
  Result<void> use_tls(const MqttTarget& m) {
    peer = std::make_unique<TlsPeer>(m.host);
    DM_ASSIGN_OR_RETURN(tls, mqtt_tls_context(m, peer.get()));
    mosquitto_int_option(mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    mosquitto_void_option(mosq, MOSQ_OPT_SSL_CTX, tls.get());
    return ok();
  }
};

MqttSender::MqttSender(http::OutboundPolicy policy, std::chrono::milliseconds ack_timeout)
    : policy_(std::move(policy)), ack_timeout_(ack_timeout) {
  std::call_once(g_init, [] { mosquitto_lib_init(); });
}

MqttSender::~MqttSender() { stop(); }

void MqttSender::stop() {
  std::map<std::string, std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(mutex_);
    sessions.swap(sessions_);
  }
}

std::shared_ptr<MqttSender::Session> MqttSender::session_for(const Target& target, const MqttTarget& m,
                                                             Outcome& refused) {
  std::lock_guard guard(mutex_);
  auto& slot = sessions_[target.id];
  if (slot && slot->connection_key == target.connection_key) return slot;
  slot.reset();  // settings changed: the old session goes
  auto checked = http::resolve_checked(policy_, m.host, m.port);
  if (!checked) {
    refused.error = checked.error().message;
    refused.permanent = checked.error().code == Errc::forbidden;
    sessions_.erase(target.id);
    return nullptr;
  }
  auto session = std::make_shared<Session>();
  session->connection_key = target.connection_key;
  std::string client_id =
      m.client_id.empty() ? "dm-dispatcher-" + target.id.substr(0, 8) + "-" + std::to_string(::getpid()) : m.client_id;
  if (!session->create(client_id, m)) {
    refused.error = "cannot create an MQTT client";
    sessions_.erase(target.id);
    return nullptr;
  }
  if (m.use_tls) {
    if (auto tls = session->use_tls(m); !tls) {
      refused.error = tls.error().message;
      refused.permanent = true;
      sessions_.erase(target.id);
      return nullptr;
    }
  }
  auto* mosq = session->mosq;
  // To the address the guard checked, never the name: it could resolve elsewhere by now.
  mosquitto_connect_async(mosq, checked->front().text().c_str(), m.port, 30);
  mosquitto_loop_start(mosq);
  slot = session;
  // A new session gets a moment to connect, so the first publishes do not fail needlessly.
  for (int i = 0; i < 400 && !session->connected; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return session;
}

void MqttSender::publish(const Target& target, const Job& job, std::function<void(Outcome)> done) {
  const auto& m = std::get<MqttTarget>(target.spec);
  Outcome refused;
  auto session = session_for(target, m, refused);
  if (!session) return done(std::move(refused));
  std::string topic = expand_topic(m.topic, job);
  json::Writer req;
  req.start_object()
      .field("topic", topic)
      .field("qos", m.qos)
      .field("retain", m.retain)
      .field("host", m.host)
      .field("port", m.port)
      .field("body", to_valid_utf8(job.message, kMaxKeptBody))  // whole characters only
      .end_object();
  std::string request = req.take();
  if (!session->connected) {
    Outcome o = session->not_connected(m);
    o.request = std::move(request);
    return done(std::move(o));
  }
  int mid = 0;
  auto started = Clock::now();
  int rc = mosquitto_publish(session->mosq, &mid, topic.c_str(), static_cast<int>(job.message.size()),
                             job.message.data(), m.qos, m.retain);
  if (rc != MOSQ_ERR_SUCCESS) {
    Outcome o;
    o.error = std::string("publish failed: ") + mosquitto_strerror(rc);
    o.permanent = rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_MALFORMED_UTF8 || rc == MOSQ_ERR_INVAL;
    o.request = std::move(request);
    return done(std::move(o));
  }
  {
    std::lock_guard lock(session->mutex);
    if (!session->early.erase(mid)) {
      session->pending[mid] = {std::move(done), started, std::move(request)};
      return;
    }
  }
  // The broker's acknowledgement came before the message was noted as pending.
  Outcome o;
  o.delivered = true;
  o.request = std::move(request);
  o.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  done(std::move(o));
}

void MqttSender::sweep() {
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, s] : sessions_) sessions.push_back(s);
  }
  auto deadline = Clock::now() - ack_timeout_;
  for (auto& s : sessions) {
    std::vector<Session::Pending> late;
    {
      std::lock_guard lock(s->mutex);
      for (auto it = s->pending.begin(); it != s->pending.end();) {
        if (it->second.started < deadline) {
          late.push_back(std::move(it->second));
          it = s->pending.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& p : late) {
      Outcome o;
      o.error = "the broker did not acknowledge within " + std::to_string(ack_timeout_.count()) + " ms";
      o.request = p.request;
      o.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - p.started).count();
      p.done(std::move(o));
    }
  }
}

}  // namespace dm::dispatcher
