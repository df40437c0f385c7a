#pragma once
// Blocking HTTP/HTTPS client: one keep-alive connection to one origin. Made for service-to-
// service calls and webhooks from worker threads: one Client per thread (not thread-safe).
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dm/core/result.hpp"
#include "dm/http/message.hpp"
#include "dm/http/outbound.hpp"

namespace dm::http {

struct Url {
  std::string scheme;  // "http" | "https" (lower case)
  std::string host;    // without IPv6 brackets
  int port = 0;        // explicit, or 80/443
  std::string target;  // path + query, default "/"; the fragment is dropped
};
// http/https only; errors are invalid_argument.
Result<Url> parse_url(std::string_view url);

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};   // resolve + connect + TLS handshake
  std::chrono::milliseconds request_timeout{10000};  // write the request + read the whole response
  bool verify_tls = true;
  std::string ca_cert_pem;  // empty = system CA bundle
  std::size_t max_response_body = 64 << 20;
  std::string user_agent = "device-manager";
  // For user-configured destinations: connect only to addresses the outbound guard approved
  // (resolve_checked), and keep the first max_response_body bytes of a longer body
  // (`truncated` set) instead of failing.
  std::optional<OutboundPolicy> outbound;
  bool truncate_body = false;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  bool truncated = false;  // only with ClientOptions::truncate_body
};

// Errors: connect refused/DNS → Errc::unavailable; timeouts → Errc::timeout; TLS verification
// failure → Errc::forbidden ("TLS certificate verification failed ..."); response body over
// max_response_body → Errc::too_large; a malformed response → Errc::unavailable.
class Client {
 public:
  // base_url "https://host:port[/prefix]": a path prefix is prepended to every target.
  // Does not connect yet; a bad URL or CA PEM → invalid_argument.
  static Result<std::unique_ptr<Client>> create(std::string_view base_url, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Reuses the connection; reconnects (and retries once) when the server closed it meanwhile.
  // Host, User-Agent and Content-Length are set unless given in `headers`.
  Result<ClientResponse> request(std::string_view method, std::string_view target, std::string_view body = {},
                                 const Headers& headers = {});
  Result<ClientResponse> get(std::string_view target, const Headers& headers = {});
  Result<ClientResponse> post(std::string_view target, std::string_view body,
                              std::string_view content_type = "application/json", const Headers& headers = {});
  // Closes the connection (the next request opens a new one).
  void close();
  // Connections opened so far: tells tests whether keep-alive worked.
  std::size_t connections_opened() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One-shot request to a full URL on a fresh connection.
Result<ClientResponse> fetch(std::string_view method, std::string_view url, std::string_view body = {},
                             const Headers& headers = {}, ClientOptions options = {});

}  // namespace dm::http
