#pragma once
// The TLS side of an MQTT session. A session connects to the address the outbound guard
// approved, never to the configured name (which could resolve elsewhere by then), and
// libmosquitto checks a certificate against the host it connected to: with an address, the
// broker's name would not be checked at all. So the session brings its own OpenSSL context
// (MOSQ_OPT_SSL_CTX, without libmosquitto's defaults), in which OpenSSL itself verifies the
// chain and the configured name (or address), and the handshake carries that name as SNI.
// CA and client certificate and key are read from memory: no PEM is written to disk.
#include <memory>
#include <mutex>
#include <string>

#include "dm/core/result.hpp"
#include "model.hpp"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace dm::dispatcher {

// The broker a session's TLS context verifies and names (SNI), and why its certificate was
// last refused. Owned by the session, for as long as the context; read and written from
// libmosquitto's thread.
class TlsPeer {
 public:
  explicit TlsPeer(std::string host) : host_(std::move(host)) {}
  const std::string& host() const { return host_; }
  void refused(std::string why) {
    std::lock_guard lock(mutex_);
    refused_ = std::move(why);
  }
  void accepted() { refused({}); }
  // Empty unless the last handshake failed its certificate check.
  std::string refusal() const {
    std::lock_guard lock(mutex_);
    return refused_;
  }

 private:
  const std::string host_;
  mutable std::mutex mutex_;
  std::string refused_;
};

struct SslCtxFree {
  void operator()(ssl_ctx_st* ctx) const;
};
using TlsContext = std::unique_ptr<ssl_ctx_st, SslCtxFree>;

// A client context for `m`: TLS 1.2 or later, the peer verified against m.ca_cert (else the
// system's CAs) and peer->host() (m.host), the client certificate and key when given. `peer`
// must outlive the context. invalid_argument for a PEM that does not parse or a key that does
// not match its certificate.
Result<TlsContext> mqtt_tls_context(const MqttTarget& m, TlsPeer* peer);

}  // namespace dm::dispatcher
