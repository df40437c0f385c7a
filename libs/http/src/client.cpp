// The blocking client: Beast async operations driven by a private io_context, one step at a
// time, so that every step has a deadline (beast::tcp_stream timeouts) while callers simply block.
#include "dm/http/client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>

namespace dm::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string host_for_header(const Url& url) {
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  bool default_port = (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
  return default_port ? host : host + ":" + std::to_string(url.port);
}

bool has_forbidden_chars(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return true;
  }
  return false;
}

// The server closed a kept-alive connection before answering: safe to reconnect and resend.
bool is_stale_connection(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

}  // namespace

struct Client::Impl {
  Impl(Url u, std::string p, ClientOptions o) : url(std::move(u)), prefix(std::move(p)), opt(std::move(o)) {}

  Url url;
  std::string prefix;  // path of the base URL, prepended to every target
  ClientOptions opt;
  std::string origin;  // "host:port" for messages
  asio::io_context ioc{1};
  tcp::resolver resolver{ioc};
  std::optional<ssl::context> tls_ctx;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::size_t opened = 0;

  bool connected() const { return plain.has_value() || tls.has_value(); }

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  void close() {
    beast::error_code ignored;
    if (plain) plain->socket().close(ignored);
    if (tls) beast::get_lowest_layer(*tls).socket().close(ignored);
    // Pending handlers (none in normal operation) must not outlive the streams they refer to.
    ioc.restart();
    ioc.poll();
    plain.reset();
    tls.reset();
    buffer.clear();
  }

  // Starts one asynchronous step and runs the private io_context until it completes.
  template <typename Start>
  void run(Start&& start) {
    ioc.restart();
    start();
    ioc.run();
  }

  Result<void> connect();
  template <typename Stream>
  Result<ClientResponse> exchange(Stream& stream, bhttp::request<bhttp::string_body>& req, bool head, bool& stale);
};

Result<void> Client::Impl::connect() {
  close();
  const auto deadline = Clock::now() + opt.connect_timeout;
  const auto timeout_ms = std::to_string(opt.connect_timeout.count());

  beast::error_code ec;
  std::vector<tcp::endpoint> endpoints;
  if (opt.outbound) {
    // The guard resolves and checks every address; we connect only to what it returned.
    DM_ASSIGN_OR_RETURN(auto addresses, resolve_checked(*opt.outbound, url.host, url.port));
    for (const auto& a : addresses) {
      auto ip = asio::ip::make_address(a.text(), ec);
      if (!ec) endpoints.emplace_back(ip, static_cast<unsigned short>(url.port));
    }
    if (endpoints.empty()) return make_error(Errc::unavailable, "no usable address for " + url.host);
  } else {
    bool resolved = false;
    ioc.restart();
    resolver.async_resolve(url.host, std::to_string(url.port),
                           [&](const beast::error_code& e, tcp::resolver::results_type r) {
                             ec = e;
                             for (const auto& entry : r) endpoints.push_back(entry.endpoint());
                             resolved = true;
                           });
    ioc.run_until(deadline);
    if (!resolved) {
      // getaddrinfo cannot be interrupted; cancel makes its completion report operation_aborted.
      resolver.cancel();
      ioc.restart();
      ioc.run();
      return make_error(Errc::timeout, "resolving " + url.host + " timed out after " + timeout_ms + " ms");
    }
    if (ec) return make_error(Errc::unavailable, "cannot resolve " + url.host + ": " + ec.message());
  }

  beast::tcp_stream* stream = nullptr;
  if (url.scheme == "https") {
    tls.emplace(ioc, *tls_ctx);
    stream = &beast::get_lowest_layer(*tls);
  } else {
    plain.emplace(ioc);
    stream = &*plain;
  }
  stream->expires_at(deadline);
  run([&] { stream->async_connect(endpoints, [&](const beast::error_code& e, const tcp::endpoint&) { ec = e; }); });
  if (ec) {
    close();
    if (ec == beast::error::timeout) {
      return make_error(Errc::timeout, "connect to " + origin + " timed out after " + timeout_ms + " ms");
    }
    return make_error(Errc::unavailable, "cannot connect to " + origin + ": " + ec.message());
  }
  beast::error_code ignored;
  stream->socket().set_option(tcp::no_delay(true), ignored);

  if (tls) {
    SSL* handle = tls->native_handle();
    if (!is_ip_literal(url.host)) {
      SSL_set_tlsext_host_name(handle, url.host.c_str());  // SNI is for names only (RFC 6066)
    }
    if (opt.verify_tls) {
      // Name checks by OpenSSL itself, so a mismatch shows up in the verify result with a reason.
      X509_VERIFY_PARAM* param = SSL_get0_param(handle);
      if (is_ip_literal(url.host)) {
        X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
      } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
      }
    }
    run([&] { tls->async_handshake(ssl::stream_base::client, [&](const beast::error_code& e) { ec = e; }); });
    if (ec) {
      long verify = SSL_get_verify_result(handle);
      bool verify_failed = verify != X509_V_OK ||
                           (ec.category() == asio::error::get_ssl_category() &&
                            ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
      std::string reason = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : ec.message();
      bool timed_out = ec == beast::error::timeout;
      close();
      if (timed_out) {
        return make_error(Errc::timeout, "TLS handshake with " + origin + " timed out after " + timeout_ms + " ms");
      }
      if (verify_failed && opt.verify_tls) {
        return make_error(Errc::forbidden, "TLS certificate verification failed for " + origin + ": " + reason);
      }
      return make_error(Errc::unavailable, "TLS handshake with " + origin + " failed: " + reason);
    }
  }
  ++opened;
  return ok();
}

template <typename Stream>
Result<ClientResponse> Client::Impl::exchange(Stream& stream, bhttp::request<bhttp::string_body>& req, bool head,
                                              bool& stale) {
  stale = false;
  const auto timeout_ms = std::to_string(opt.request_timeout.count());
  auto timed_out = [&] {
    close();
    return make_error(Errc::timeout, std::string(req.method_string()) + " " + origin + std::string(req.target()) +
                                         " timed out after " + timeout_ms + " ms");
  };

  lowest().expires_after(opt.request_timeout);  // one deadline for writing and reading
  beast::error_code ec;
  run([&] { bhttp::async_write(stream, req, [&](const beast::error_code& e, std::size_t) { ec = e; }); });
  if (ec) {
    if (ec == beast::error::timeout) return timed_out();
    stale = is_stale_connection(ec);
    close();
    return make_error(Errc::unavailable, "sending to " + origin + " failed: " + ec.message());
  }

  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(static_cast<std::uint64_t>(opt.max_response_body));
  parser.header_limit(64 << 10);
  if (head) parser.skip(true);  // a HEAD answer has Content-Length but no body
  run([&] { bhttp::async_read(stream, buffer, parser, [&](const beast::error_code& e, std::size_t) { ec = e; }); });
  if (ec == ssl::error::stream_truncated && parser.is_header_done() && parser.need_eof()) {
    // A body delimited by the close, ended without TLS close_notify: complete as far as HTTP goes.
    beast::error_code eof_ec;
    parser.put_eof(eof_ec);
    if (!eof_ec && parser.is_done()) ec = {};
  }
  if (ec) {
    if (ec == beast::error::timeout) return timed_out();
    if (ec == bhttp::error::body_limit && opt.truncate_body && parser.is_header_done()) {
      // Keep the answer, drop the rest of the body with the connection.
      auto& partial = parser.get();
      ClientResponse out;
      out.status = static_cast<int>(partial.result_int());
      for (const auto& field : partial) out.headers.add(std::string(field.name_string()), std::string(field.value()));
      out.body = partial.body().substr(0, opt.max_response_body);
      out.truncated = true;
      close();
      return out;
    }
    if (ec == bhttp::error::body_limit) {
      close();
      return make_error(Errc::too_large,
                        "response from " + origin + " is over " + std::to_string(opt.max_response_body) + " bytes");
    }
    stale = !parser.got_some() && is_stale_connection(ec);
    close();
    return make_error(Errc::unavailable, "reading the response from " + origin + " failed: " + ec.message());
  }

  auto& msg = parser.get();
  ClientResponse out;
  out.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) out.headers.add(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(msg.body());
  if (!msg.keep_alive()) close();
  return out;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  if (impl_) impl_->close();
}

Result<std::unique_ptr<Client>> Client::create(std::string_view base_url, ClientOptions options) {
  DM_ASSIGN_OR_RETURN(Url url, parse_url(base_url));
  // The base URL's path is a prefix for every target; its query, if any, makes no sense here.
  std::string prefix = url.target.substr(0, url.target.find('?'));
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  url.target = "/";
  auto impl = std::make_unique<Impl>(std::move(url), std::move(prefix), std::move(options));
  impl->origin = host_for_header(impl->url);
  if (impl->url.scheme == "https") {
    impl->tls_ctx.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(impl->tls_ctx->native_handle(), TLS1_2_VERSION);
    beast::error_code ec;
    if (impl->opt.verify_tls) {
      impl->tls_ctx->set_verify_mode(ssl::verify_peer, ec);
      if (impl->opt.ca_cert_pem.empty()) {
        impl->tls_ctx->set_default_verify_paths(ec);
        if (ec) return make_error(Errc::internal, "cannot load the system CA certificates: " + ec.message());
      } else {
        impl->tls_ctx->add_certificate_authority(asio::buffer(impl->opt.ca_cert_pem), ec);
        if (ec) return make_error(Errc::invalid_argument, "invalid CA certificate PEM: " + ec.message());
      }
    } else {
      impl->tls_ctx->set_verify_mode(ssl::verify_none, ec);
    }
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<ClientResponse> Client::request(std::string_view method, std::string_view target, std::string_view body,
                                       const Headers& headers) {
  Impl& m = *impl_;
  if (method.empty() || has_forbidden_chars(method)) {
    return make_error(Errc::invalid_argument, "invalid HTTP method '" + std::string(method) + "'");
  }
  if (has_forbidden_chars(target)) {
    return make_error(Errc::invalid_argument, "spaces or control characters in target '" + std::string(target) + "'");
  }
  std::string full = m.prefix;
  if (target.empty() || target.front() != '/') full.push_back('/');
  full += target;

  bhttp::request<bhttp::string_body> req;
  req.version(11);
  auto verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(full);
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return make_error(Errc::invalid_argument, "invalid header '" + name + "'");
    }
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding")) continue;  // framing is ours
    req.insert(name, value);
  }
  if (!headers.contains("Host")) req.set(bhttp::field::host, m.origin);
  if (!headers.contains("User-Agent") && !m.opt.user_agent.empty()) req.set(bhttp::field::user_agent, m.opt.user_agent);
  req.body() = std::string(body);
  bool has_body_method = verb == bhttp::verb::post || verb == bhttp::verb::put || verb == bhttp::verb::patch;
  if (!body.empty() || has_body_method) req.content_length(body.size());
  bool head = verb == bhttp::verb::head;

  for (int attempt = 0;; ++attempt) {
    bool reused = m.connected();
    if (!reused) DM_TRY(m.connect());
    bool stale = false;
    auto result = m.tls ? m.exchange(*m.tls, req, head, stale) : m.exchange(*m.plain, req, head, stale);
    if (result.ok() || !(reused && stale && attempt == 0)) return result;
  }
}

Result<ClientResponse> Client::get(std::string_view target, const Headers& headers) {
  return request("GET", target, {}, headers);
}

Result<ClientResponse> Client::post(std::string_view target, std::string_view body, std::string_view content_type,
                                    const Headers& headers) {
  if (headers.contains("Content-Type") || content_type.empty()) return request("POST", target, body, headers);
  Headers with_type = headers;
  with_type.set("Content-Type", std::string(content_type));
  return request("POST", target, body, with_type);
}

void Client::close() { impl_->close(); }

std::size_t Client::connections_opened() const { return impl_->opened; }

Result<ClientResponse> fetch(std::string_view method, std::string_view url, std::string_view body,
                             const Headers& headers, ClientOptions options) {
  DM_ASSIGN_OR_RETURN(Url parsed, parse_url(url));
  std::string host = parsed.host.find(':') != std::string::npos ? "[" + parsed.host + "]" : parsed.host;
  std::string origin = parsed.scheme + "://" + host + ":" + std::to_string(parsed.port);
  DM_ASSIGN_OR_RETURN(auto client, Client::create(origin, std::move(options)));
  return client->request(method, parsed.target, body, headers);
}

}  // namespace dm::http
