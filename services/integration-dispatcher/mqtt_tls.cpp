#include "mqtt_tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dm/http/outbound.hpp"

namespace dm::dispatcher {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioFree> memory(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

Error bad(const std::string& what) {
  ERR_clear_error();
  return Error(Errc::invalid_argument, "MQTT TLS settings refused: " + what);
}

// Every certificate of a PEM bundle into the context's trust store.
Result<void> trust(SSL_CTX* ctx, const std::string& pem) {
  auto bio = memory(pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (std::unique_ptr<X509, X509Free> cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if (X509_STORE_add_cert(store, cert.get()) != 1) return bad("ca_cert could not be added");
    ++added;
  }
  if (added == 0) return bad("ca_cert holds no PEM certificate");
  ERR_clear_error();  // the end of the bundle reads as an error
  return ok();
}

// The client certificate (then any chain certificates after it) and its key.
Result<void> identify(SSL_CTX* ctx, const std::string& cert_pem, const std::string& key_pem) {
  auto bio = memory(cert_pem);
  std::unique_ptr<X509, X509Free> cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
  if (!cert || SSL_CTX_use_certificate(ctx, cert.get()) != 1) return bad("client_cert is not a PEM certificate");
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {  // takes ownership only on success
      X509_free(extra);
      return bad("client_cert chain could not be used");
    }
  }
  ERR_clear_error();
  auto key_bio = memory(key_pem);
  std::unique_ptr<EVP_PKEY, KeyFree> key{PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)};
  if (!key || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) return bad("client_key is not a PEM private key");
  if (SSL_CTX_check_private_key(ctx) != 1) return bad("client_key does not match client_cert");
  return ok();
}

// The context's TlsPeer: the name to send as SNI, where to record a refused certificate.
TlsPeer* peer_of(const SSL* ssl) { return static_cast<TlsPeer*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl))); }

int on_verify(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (auto* peer = peer_of(ssl)) peer->refused(X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
  return 0;
}

// libmosquitto sets SNI to the host it connects to, the checked address; before the
// ClientHello is written the broker's name replaces it (an address sends none, RFC 6066).
void on_handshake(const SSL* ssl, int where, int) {
  if (!(where & SSL_CB_HANDSHAKE_START)) return;
  auto* peer = peer_of(ssl);
  auto* s = const_cast<SSL*>(ssl);
  if (!peer || http::parse_ip(peer->host()))
    SSL_set_tlsext_host_name(s, nullptr);
  else
    SSL_set_tlsext_host_name(s, peer->host().c_str());
}

}  // namespace

void SslCtxFree::operator()(ssl_ctx_st* ctx) const { SSL_CTX_free(ctx); }

Result<TlsContext> mqtt_tls_context(const MqttTarget& m, TlsPeer* peer) {
  TlsContext ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Error(Errc::internal, "cannot create a TLS context");
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION);
  if (m.ca_cert.empty()) {
    if (SSL_CTX_set_default_verify_paths(c) != 1)
      return Error(Errc::internal, "cannot load the system CA certificates");
  } else {
    DM_TRY(trust(c, m.ca_cert));
  }
  if (!m.client_cert.empty() || !m.client_key.empty()) DM_TRY(identify(c, m.client_cert, m.client_key));
  // OpenSSL checks the name itself, during the handshake, so a mismatch fails it with a reason.
  const std::string& host = peer->host();
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(c);
  if (http::parse_ip(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, on_verify);
  SSL_CTX_set_app_data(c, peer);
  SSL_CTX_set_info_callback(c, on_handshake);
  return ctx;
}

}  // namespace dm::dispatcher
