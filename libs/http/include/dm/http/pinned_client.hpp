#pragma once
// Keep-alive HTTP/HTTPS client for user-configured destinations (integrations, storages):
// like Client, but every connection goes to an address that resolve_checked() approved
// (the outbound guard), redirects are never followed (a 3xx is just an answer), and at most
// `max_response_body` bytes of a response body are kept (the rest is dropped with the
// connection, `truncated` set). One instance per thread; pool them per destination.
#include <cstddef>
#include <memory>
#include <string_view>

#include "dm/core/result.hpp"
#include "dm/http/client.hpp"
#include "dm/http/outbound.hpp"

namespace dm::http {

struct PinnedResponse {
  int status = 0;
  Headers headers;
  std::string body;
  bool truncated = false;
};

class PinnedClient {
 public:
  // origin: "https://host:port" (a path is ignored: targets are absolute). options.max_response_body
  // bounds the kept body (default here 64 KiB when left at Client's default).
  static Result<std::unique_ptr<PinnedClient>> create(std::string_view origin, ClientOptions options,
                                                      OutboundPolicy policy);
  ~PinnedClient();
  PinnedClient(const PinnedClient&) = delete;
  PinnedClient& operator=(const PinnedClient&) = delete;

  // Errors as Client's, plus Errc::forbidden when the outbound guard refuses the destination
  // (no connection is attempted then).
  Result<PinnedResponse> request(std::string_view method, std::string_view target, std::string_view body,
                                 const Headers& headers);
  void close();
  std::size_t connections_opened() const;

 private:
  struct Impl;
  explicit PinnedClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::http
