#pragma once
// REST over NATS. A service asks the owner of a resource with one NATS request on
// `dm.rpc.<owner>.<caller>` (dm/contract/subjects.hpp), which only <caller>'s NATS user may
// publish to; the owner serves `dm.rpc.<owner>.*` in queue group <owner> (replicas share the
// load), reads the caller from the subject, checks that this caller may use that route
// (dm/contract/rpc.hpp; 403 otherwise) and dispatches it with an ordinary http::Router.
// Metadata travels in NATS headers and the body verbatim in both directions, so neither side
// re-encodes JSON it does not need to read.
//
// Request headers:  Dm-Method, Dm-Target (path and query as sent by the client),
//                   Dm-User-Id, Dm-Role (the authenticated principal: believed only from the
//                   gateway, dropped from any other caller), Content-Type.
// Reply headers:    Dm-Status (HTTP status code), Content-Type, and any of the
//                   pass-through headers below.
#include <chrono>
#include <memory>
#include <string>

#include "dm/bus/bus.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/http/router.hpp"

namespace dm::service {

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

class Runtime;

// Starts serving `router` over NATS as the runtime's service (Spec::name) with `workers`
// threads; 0: one per database connection, since each request may wait for one. The caller
// stops it at shutdown, before what its routes use.
Result<std::unique_ptr<RpcServer>> serve_rpc(Runtime& rt, std::shared_ptr<const http::Router> router,
                                             std::size_t workers = 0);

// Turns a NATS RPC message from `caller` into the http::Request an owner's router expects.
http::Request request_from_rpc(const bus::Message& message, std::string_view caller);

// Caller side: `caller` forwards `request` to `owner` and answers `reply` with the owner's
// response, or 503 when no replica answers, or 504 on timeout.
// `pass_headers` names client headers the owner needs verbatim (e.g. the webhook's own
// Authorization secret); by default none are forwarded, so user credentials stay at the gateway.
void forward_rpc(bus::Connection& nats, std::string_view owner, std::string_view caller, const http::Request& request,
                 std::chrono::milliseconds timeout, http::Reply reply,
                 const std::vector<std::string>& pass_headers = {});

}  // namespace dm::service
