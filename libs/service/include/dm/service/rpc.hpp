#pragma once
// REST over NATS. The gateway forwards an HTTP request to the service that owns the
// resource as one NATS request on `dm.rpc.<service>` (queue group <service>, so replicas
// share the load); the owner dispatches it with an ordinary http::Router and answers.
// Metadata travels in NATS headers and the body travels verbatim in both directions, so
// neither side re-encodes JSON it does not need to read.
//
// Request headers:  Dm-Method, Dm-Target (path and query as sent by the client),
//                   Dm-User-Id, Dm-Role (the authenticated principal, set only by the gateway),
//                   Content-Type.
// Reply headers:    Dm-Status (HTTP status code), Content-Type, and any of the
//                   pass-through headers below.
#include <chrono>
#include <memory>
#include <string>

#include "dm/bus/bus.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/http/router.hpp"

namespace dm::service {

std::string rpc_subject(std::string_view service);

// Response headers that travel back from the owner to the client.
inline constexpr const char* kPassThroughHeaders[] = {"X-Total-Count", "Location", "Retry-After", "Allow"};

// Owner side: answers `dm.rpc.<service>` with `router`. NATS delivers one subscription's
// messages on one thread, so requests are handed to `workers` (which may block on the
// database); a full queue slows delivery down instead of growing memory.
class RpcServer {
 public:
  RpcServer(bus::Connection& nats, std::string service, std::shared_ptr<const http::Router> router,
            std::size_t workers);
  ~RpcServer();
  Result<void> start();
  // Stops receiving and finishes the requests already taken.
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Turns a NATS RPC message into the http::Request an owner's router expects.
http::Request request_from_rpc(const bus::Message& message);

// Gateway side: forwards `request` to `service` and answers `reply` with the owner's
// response, or 503 when no replica answers, or 504 on timeout.
// `pass_headers` names client headers the owner needs verbatim (e.g. the webhook's own
// Authorization secret); by default none are forwarded, so user credentials stay at the gateway.
void forward_rpc(bus::Connection& nats, std::string_view service, const http::Request& request,
                 std::chrono::milliseconds timeout, http::Reply reply,
                 const std::vector<std::string>& pass_headers = {});

}  // namespace dm::service
