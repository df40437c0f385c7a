// Connecting and exchanging, once, for both clients. Every step has a deadline
// (beast::tcp_stream timeouts; a timer cancels a slow name lookup), and every failure maps to
// the errors client.hpp documents.
#include "exchange.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace dm::http::detail {

using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
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

beast::tcp_stream& lowest(Connection& c) { return c.tls ? beast::get_lowest_layer(*c.tls) : *c.plain; }

// The addresses to connect to: resolved by the system before `deadline`, and, for
// user-configured destinations, every one of them approved by the outbound guard.
asio::awaitable<Result<std::vector<tcp::endpoint>>> resolve(const asio::any_io_executor& ex, const Origin& o,
                                                            Clock::time_point deadline) {
  const auto& url = o.url;
  std::vector<tcp::endpoint> endpoints;
  const auto port = static_cast<unsigned short>(url.port);
  beast::error_code ec;
  if (auto literal = asio::ip::make_address(url.host, ec); !ec) {
    endpoints.emplace_back(literal, port);
  } else {
    // getaddrinfo cannot be interrupted; cancelling makes its completion report operation_aborted.
    auto resolver = std::make_shared<tcp::resolver>(ex);
    auto timer = std::make_shared<asio::steady_timer>(ex, deadline);
    timer->async_wait([resolver](const beast::error_code& e) {
      if (!e) resolver->cancel();
    });
    auto [rec, results] = co_await resolver->async_resolve(url.host, std::to_string(url.port), kUseTuple);
    timer->cancel();
    if (rec == asio::error::operation_aborted) {
      co_return make_error(Errc::timeout, "resolving " + url.host + " timed out after " +
                                              std::to_string(o.options.connect_timeout.count()) + " ms");
    }
    if (rec) co_return make_error(Errc::unavailable, "cannot resolve " + url.host + ": " + rec.message());
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  if (!o.options.outbound) co_return endpoints;
  // The guard checks every address; we connect only to what it approved.
  std::vector<IpAddress> addresses;
  for (const auto& e : endpoints) {
    if (auto ip = parse_ip(e.address().to_string())) addresses.push_back(*ip);
  }
  auto checked = check_addresses(*o.options.outbound, url.host, std::move(addresses));
  if (!checked) co_return checked.take_error();
  std::vector<tcp::endpoint> approved;
  for (const auto& a : *checked) {
    auto ip = asio::ip::make_address(a.text(), ec);
    if (!ec) approved.emplace_back(ip, port);
  }
  if (approved.empty()) co_return make_error(Errc::unavailable, "no usable address for " + url.host);
  co_return approved;
}

// SNI and, when verifying, the name or address the certificate must be for.
void set_tls_peer(SSL* handle, const std::string& host, bool verify) {
  if (!is_ip_literal(host)) SSL_set_tlsext_host_name(handle, host.c_str());  // SNI is for names only (RFC 6066)
  if (!verify) return;
  // Name checks by OpenSSL itself, so a mismatch shows up in the verify result with a reason.
  X509_VERIFY_PARAM* param = SSL_get0_param(handle);
  if (is_ip_literal(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
}

// The TLS handshake on a connected c.tls; a failure closes the connection and says whether
// it timed out, the certificate was refused, or something else went wrong.
asio::awaitable<Result<void>> handshake(Connection& c, const Origin& o) {
  const auto& origin = o.host_header;
  SSL* handle = c.tls->native_handle();
  set_tls_peer(handle, o.url.host, o.options.verify_tls);
  auto [hec] = co_await c.tls->async_handshake(ssl::stream_base::client, kUseTuple);
  if (!hec) co_return ok();
  long verify = SSL_get_verify_result(handle);
  bool verify_failed = verify != X509_V_OK ||
                       (hec.category() == asio::error::get_ssl_category() &&
                        ERR_GET_REASON(static_cast<unsigned long>(hec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
  std::string reason = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : hec.message();
  bool timed_out = hec == beast::error::timeout;
  c.close();
  if (timed_out) {
    const auto timeout_ms = std::to_string(o.options.connect_timeout.count());
    co_return make_error(Errc::timeout, "TLS handshake with " + origin + " timed out after " + timeout_ms + " ms");
  }
  if (verify_failed && o.options.verify_tls) {
    co_return make_error(Errc::forbidden, "TLS certificate verification failed for " + origin + ": " + reason);
  }
  co_return make_error(Errc::unavailable, "TLS handshake with " + origin + " failed: " + reason);
}

asio::awaitable<Result<void>> connect(Connection& c, const Origin& o) {
  c.close();
  const auto deadline = Clock::now() + o.options.connect_timeout;
  const auto timeout_ms = std::to_string(o.options.connect_timeout.count());
  const auto& origin = o.host_header;

  auto endpoints = co_await resolve(c.executor, o, deadline);
  if (!endpoints) co_return endpoints.take_error();

  beast::tcp_stream* stream = nullptr;
  if (o.url.scheme == "https") {
    c.tls.emplace(c.executor, *o.tls);  // one context shared by an origin's connections, as OpenSSL intends
    stream = &beast::get_lowest_layer(*c.tls);
  } else {
    c.plain.emplace(c.executor);
    stream = &*c.plain;
  }
  stream->expires_at(deadline);
  auto [ec, ep] = co_await stream->async_connect(*endpoints, kUseTuple);
  (void)ep;
  if (ec) {
    c.close();
    if (ec == beast::error::timeout) {
      co_return make_error(Errc::timeout, "connect to " + origin + " timed out after " + timeout_ms + " ms");
    }
    co_return make_error(Errc::unavailable, "cannot connect to " + origin + ": " + ec.message());
  }
  beast::error_code ignored;
  stream->socket().set_option(tcp::no_delay(true), ignored);

  if (c.tls) {
    auto shaken = co_await handshake(c, o);
    if (!shaken) co_return shaken.take_error();
  }
  ++c.opened;
  co_return ok();
}

ClientResponse response_of(const bhttp::response<bhttp::string_body>& msg) {
  ClientResponse out;
  out.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) out.headers.add(std::string(field.name_string()), std::string(field.value()));
  return out;
}

template <typename Stream>
asio::awaitable<Result<ClientResponse>> exchange(Connection& c, Stream& stream, const Origin& o, OutRequest& req,
                                                 bool& stale) {
  stale = false;
  const auto& opt = o.options;
  const bool head = req.method() == bhttp::verb::head;
  auto timed_out = [&] {
    c.close();
    return make_error(Errc::timeout, std::string(req.method_string()) + " " + o.host_header +
                                         std::string(req.target()) + " timed out after " +
                                         std::to_string(opt.request_timeout.count()) + " ms");
  };

  lowest(c).expires_after(opt.request_timeout);  // one deadline for writing and reading
  auto [wec, written] = co_await bhttp::async_write(stream, req, kUseTuple);
  (void)written;
  if (wec) {
    if (wec == beast::error::timeout) co_return timed_out();
    stale = is_stale_connection(wec);
    c.close();
    co_return make_error(Errc::unavailable, "sending to " + o.host_header + " failed: " + wec.message());
  }

  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(static_cast<std::uint64_t>(opt.max_response_body));
  parser.header_limit(64 << 10);
  if (head) parser.skip(true);  // a HEAD answer has Content-Length but no body
  auto [ec, read] = co_await bhttp::async_read(stream, c.buffer, parser, kUseTuple);
  (void)read;
  if (ec == ssl::error::stream_truncated && parser.is_header_done() && parser.need_eof()) {
    // A body delimited by the close, ended without TLS close_notify: complete as far as HTTP goes.
    beast::error_code eof_ec;
    parser.put_eof(eof_ec);
    if (!eof_ec && parser.is_done()) ec = {};
  }
  if (ec) {
    if (ec == beast::error::timeout) co_return timed_out();
    if (ec == bhttp::error::body_limit && opt.truncate_body && parser.is_header_done()) {
      // Keep the answer, drop the rest of the body with the connection.
      auto out = response_of(parser.get());
      out.body = parser.get().body().substr(0, opt.max_response_body);
      out.truncated = true;
      c.close();
      co_return out;
    }
    if (ec == bhttp::error::body_limit) {
      c.close();
      co_return make_error(Errc::too_large, "response from " + o.host_header + " is over " +
                                                std::to_string(opt.max_response_body) + " bytes");
    }
    stale = !parser.got_some() && is_stale_connection(ec);
    c.close();
    co_return make_error(Errc::unavailable, "reading the response from " + o.host_header + " failed: " + ec.message());
  }
  auto& msg = parser.get();
  auto out = response_of(msg);
  out.body = std::move(msg.body());
  if (!msg.keep_alive()) c.close();
  co_return out;
}

}  // namespace

Result<std::shared_ptr<Origin>> Origin::make(const Url& url, ClientOptions options) {
  auto o = std::make_shared<Origin>();
  o->url = url;
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  bool default_port = (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
  o->host_header = default_port ? host : host + ":" + std::to_string(url.port);
  o->options = std::move(options);
  if (url.scheme != "https") return o;
  o->tls.emplace(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(o->tls->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  if (!o->options.verify_tls) {
    o->tls->set_verify_mode(ssl::verify_none, ec);
    return o;
  }
  o->tls->set_verify_mode(ssl::verify_peer, ec);
  if (o->options.ca_cert_pem.empty()) {
    o->tls->set_default_verify_paths(ec);
    if (ec) return make_error(Errc::internal, "cannot load the system CA certificates: " + ec.message());
  } else {
    o->tls->add_certificate_authority(asio::buffer(o->options.ca_cert_pem), ec);
    if (ec) return make_error(Errc::invalid_argument, "invalid CA certificate PEM: " + ec.message());
  }
  return o;
}

void Connection::close() {
  beast::error_code ignored;
  if (plain) plain->socket().close(ignored);
  if (tls) beast::get_lowest_layer(*tls).socket().close(ignored);
  plain.reset();
  tls.reset();
  buffer.clear();
}

Result<OutRequest> build_request(const Origin& origin, std::string_view method, const std::string& target,
                                 std::string_view body, const Headers& headers) {
  if (method.empty() || has_forbidden_chars(method)) {
    return make_error(Errc::invalid_argument, "invalid HTTP method '" + std::string(method) + "'");
  }
  if (has_forbidden_chars(target)) {
    return make_error(Errc::invalid_argument, "spaces or control characters in target '" + target + "'");
  }
  OutRequest req;
  req.version(11);
  auto verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target);
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return make_error(Errc::invalid_argument, "invalid header '" + name + "'");
    }
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding")) continue;  // framing is ours
    req.insert(name, value);
  }
  if (!headers.contains("Host")) req.set(bhttp::field::host, origin.host_header);
  if (!headers.contains("User-Agent") && !origin.options.user_agent.empty()) {
    req.set(bhttp::field::user_agent, origin.options.user_agent);
  }
  req.body() = std::string(body);
  bool has_body_method = verb == bhttp::verb::post || verb == bhttp::verb::put || verb == bhttp::verb::patch;
  if (!body.empty() || has_body_method) req.content_length(body.size());
  return req;
}

asio::awaitable<Result<ClientResponse>> send(Connection& c, const Origin& origin, OutRequest& request) {
  for (int attempt = 0;; ++attempt) {
    bool reused = c.connected();
    if (!reused) {
      auto connected = co_await connect(c, origin);
      if (!connected) co_return connected.take_error();
    }
    bool stale = false;
    // Not a conditional expression: GCC 12 miscompiles co_await inside ?: (corrupted results).
    std::optional<Result<ClientResponse>> result;
    if (c.tls) {
      result.emplace(co_await exchange(c, *c.tls, origin, request, stale));
    } else {
      result.emplace(co_await exchange(c, *c.plain, origin, request, stale));
    }
    if (result->ok() || !(reused && stale && attempt == 0)) co_return std::move(*result);
  }
}

}  // namespace dm::http::detail
