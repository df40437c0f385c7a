#pragma once
// The HTTP client's one implementation (private to dm_http): connecting (resolve, outbound
// check, TCP, TLS) and one request/response exchange, as coroutines on whatever executor the
// connection is bound to. The blocking Client runs them on a private io_context; AsyncClient
// on its shared I/O thread.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <optional>
#include <string>

#include "dm/http/client.hpp"

namespace dm::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;

using OutRequest = bhttp::request<bhttp::string_body>;

// One destination (scheme, host, port) with the options and TLS context of its connections.
struct Origin {
  Url url;
  std::string host_header;  // "host[:port]", also used in messages
  ClientOptions options;
  // Mutable: connections take it by reference to set up their TLS state; it is not changed.
  mutable std::optional<ssl::context> tls;

  // Errors: invalid_argument (bad URL or CA PEM), internal (no system CA bundle).
  static Result<std::shared_ptr<Origin>> make(const Url& url, ClientOptions options);
};

// One connection (plain or TLS), used by one exchange at a time.
struct Connection {
  explicit Connection(asio::any_io_executor executor) : executor(std::move(executor)) {}
  asio::any_io_executor executor;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::size_t opened = 0;

  bool connected() const { return plain.has_value() || tls.has_value(); }
  void close();
};

// The request line and headers for `origin`; Host, User-Agent and Content-Length are set
// unless given. Errors: invalid_argument (method, target or a header with forbidden characters).
Result<OutRequest> build_request(const Origin& origin, std::string_view method, const std::string& target,
                                 std::string_view body, const Headers& headers);

// Sends `request` over `c` (connecting first when it is not connected) and reads the answer;
// a kept-alive connection the server had closed meanwhile is reopened and the request sent
// once more. The connection is closed after an error or when the server does not keep it.
asio::awaitable<Result<ClientResponse>> send(Connection& c, const Origin& origin, OutRequest& request);

}  // namespace dm::http::detail
