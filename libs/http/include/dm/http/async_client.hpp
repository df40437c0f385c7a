#pragma once
// Asynchronous HTTP/HTTPS client for many destinations at once: keep-alive connections pooled
// per key (e.g. one integration), all driven by one I/O thread of its own, so thousands of
// requests are in flight without a thread each. Thread-safe. Options, limits and errors are
// those of the blocking Client (client.hpp), which runs the same code on a private loop.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "dm/core/result.hpp"
#include "dm/http/client.hpp"

namespace dm::http {

class AsyncClient {
 public:
  using Done = std::function<void(Result<ClientResponse>)>;

  // `max_idle_per_pool`: keep-alive connections kept per pool between requests; a pool with
  // more requests in flight opens more, and closes those beyond it when they fall idle. Set it
  // to the most requests a caller keeps in flight per key, or connections are opened anew.
  explicit AsyncClient(std::size_t max_idle_per_pool = 64);
  // Stops the I/O thread. Requests still in flight are abandoned: their `done` never runs.
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Sends `method url` with `body` and `headers` (as Client::request). Connections are pooled
  // under `pool_key` and reused while `options_key` stays the same: a changed destination or
  // configuration drops the old ones. `options` apply to connections opened for this request.
  // `done` runs once, on the I/O thread (keep it short), or inline for a malformed request.
  void request(const std::string& pool_key, const std::string& options_key, const ClientOptions& options,
               std::string_view method, std::string_view url, const std::string& body, const Headers& headers,
               Done done);

  // Connections opened so far (keep-alive tells in tests).
  std::size_t connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::http
