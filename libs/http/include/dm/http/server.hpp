#pragma once
// HTTP/1.1 server: an acceptor and one coroutine per connection on `threads` io threads.
// Handlers run on io threads; a handler that blocks holds up every connection on that thread,
// so slow work replies asynchronously (Reply may be called from any thread).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dm/core/result.hpp"
#include "dm/http/router.hpp"

namespace dm::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0 = any free port
  int threads = 1;
  std::size_t body_limit = 1 << 20;
  std::size_t header_limit = 16 << 10;            // request line + header fields
  std::chrono::milliseconds read_timeout{10000};  // whole request, from its first byte
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive between requests; also bounds a write
  std::string server_name = "device-manager";
};

// Body over body_limit → 413 {"detail":"Request body too large: limit is N bytes"} and close;
// malformed request → 400 and close; header over header_limit → 431 and close; read timeout →
// close. Keep-alive honoured. Responses carry Content-Length (except 1xx/204/304, where
// RFC 9110 forbids a body) and a Server header.
class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<const Router> router);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (Errc::unavailable with a message if the port is taken) and runs the io threads.
  Result<void> start();
  int port() const;  // the bound port (0 before start)

  // Stops accepting, closes idle keep-alive connections, lets in-flight requests finish up to
  // `grace` (their responses carry Connection: close), then closes everything and joins threads.
  // Replies arriving after that are dropped. Not from a handler: it joins the io threads.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  struct Stats {
    std::uint64_t requests;            // requests answered (any status)
    std::uint64_t active_connections;  // open now
    std::uint64_t total_connections;   // accepted since start
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::http
