// The blocking client: the shared exchange (exchange.hpp) run on a private io_context, so
// every step keeps its deadline while callers simply block.
#include "dm/http/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>

#include "exchange.hpp"

namespace dm::http {

struct Client::Impl {
  std::shared_ptr<detail::Origin> origin;
  std::string prefix;  // path of the base URL, prepended to every target
  boost::asio::io_context ioc{1};
  detail::Connection connection{ioc.get_executor()};

  void close() {
    connection.close();
    // Pending handlers (none in normal operation) must not outlive the streams they refer to.
    ioc.restart();
    ioc.poll();
  }
};

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
  auto impl = std::make_unique<Impl>();
  DM_ASSIGN_OR_RETURN(impl->origin, detail::Origin::make(url, std::move(options)));
  impl->prefix = std::move(prefix);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<ClientResponse> Client::request(std::string_view method, std::string_view target, std::string_view body,
                                       const Headers& headers) {
  Impl& m = *impl_;
  std::string full = m.prefix;
  if (target.empty() || target.front() != '/') full.push_back('/');
  full += target;
  DM_ASSIGN_OR_RETURN(auto req, detail::build_request(*m.origin, method, full, body, headers));
  std::optional<Result<ClientResponse>> result;
  m.ioc.restart();
  boost::asio::co_spawn(
      m.ioc, [&]() -> boost::asio::awaitable<void> { result = co_await detail::send(m.connection, *m.origin, req); },
      [&result](const std::exception_ptr& e) {
        if (e && !result) result = make_error(Errc::internal, "HTTP client failure");
      });
  m.ioc.run();
  if (!result) return make_error(Errc::internal, "HTTP exchange did not complete");
  return std::move(*result);
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

std::size_t Client::connections_opened() const { return impl_->connection.opened; }

Result<ClientResponse> fetch(std::string_view method, std::string_view url, std::string_view body,
                             const Headers& headers, ClientOptions options) {
  DM_ASSIGN_OR_RETURN(Url parsed, parse_url(url));
  std::string host = parsed.host.find(':') != std::string::npos ? "[" + parsed.host + "]" : parsed.host;
  std::string origin = parsed.scheme + "://" + host + ":" + std::to_string(parsed.port);
  DM_ASSIGN_OR_RETURN(auto client, Client::create(origin, std::move(options)));
  return client->request(method, parsed.target, body, headers);
}

}  // namespace dm::http
