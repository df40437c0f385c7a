#include "dm/service/rpc.hpp"

#include <charconv>

#include "dm/contract/rpc.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/service/runtime.hpp"

namespace dm::service {

http::Request request_from_rpc(const bus::Message& message, std::string_view caller) {
  http::Request req;
  req.method = message.header("Dm-Method").value_or("GET");
  req.target = message.header("Dm-Target").value_or("/");
  http::parse_target(req);
  req.body = message.data;
  // A user's identity is the gateway's word alone: it authenticated the user. From any other
  // caller these headers would be a claim nobody checked.
  const bool from_gateway = caller == contract::kGateway;
  for (const auto& h : message.headers) {
    if (!from_gateway && (http::iequals(h.key, "Dm-User-Id") || http::iequals(h.key, "Dm-Role"))) continue;
    req.headers.add(h.key, h.value);
  }
  req.caller = std::string(caller);
  req.remote_address = "nats:" + req.caller;
  return req;
}

struct RpcServer::State {
  bus::Connection& nats;
  std::string service;
  std::shared_ptr<const http::Router> router;
  ThreadPool pool;
  std::unique_ptr<bus::Subscription> sub;

  State(bus::Connection& n, std::string s, std::shared_ptr<const http::Router> r, std::size_t workers)
      : nats(n), service(std::move(s)), router(std::move(r)), pool(workers, workers * 64) {}

  void handle(bus::Message&& msg) {
    auto caller = contract::subject::rpc_caller(msg.subject, service);
    auto req = request_from_rpc(msg, caller);
    // What respond needs of the request (reply subject, whether it takes a reply in parts),
    // without the body the router already has.
    auto origin = std::make_shared<bus::Message>();
    origin->subject = std::move(msg.subject);
    origin->reply = std::move(msg.reply);
    origin->headers = std::move(msg.headers);
    auto* conn = &nats;
    auto answer = [conn, origin](const http::Response& res) {
      bus::Headers headers;
      headers.push_back({"Dm-Status", std::to_string(res.status)});
      for (const auto& [k, v] : res.headers) {
        if (http::iequals(k, "Content-Type")) headers.push_back({"Content-Type", v});
        for (const char* pass : kPassThroughHeaders) {
          if (http::iequals(k, pass)) headers.push_back({pass, v});
        }
      }
      if (auto r = conn->respond(*origin, res.body, headers); !r) {
        log::warn("rpc reply failed", {{"error", r.error().message}});
      }
    };
    if (!contract::rpc_allowed(service, req.caller, req.method, req.path)) {
      log::warn("rpc refused", {{"caller", req.caller}, {"method", req.method}, {"path", req.path}});
      return answer(http::Response::error(403, (req.caller.empty() ? std::string("an unnamed caller") : req.caller) +
                                                   " may not call " + req.method + " " + req.path + " of " + service));
    }
    router->dispatch(req, std::move(answer));
  }
};

RpcServer::RpcServer(bus::Connection& nats, std::string service, std::shared_ptr<const http::Router> router,
                     std::size_t workers)
    : state_(std::make_shared<State>(nats, std::move(service), std::move(router), workers)) {}

RpcServer::~RpcServer() { stop(); }

Result<void> RpcServer::start() {
  std::weak_ptr<State> weak = state_;
  DM_ASSIGN_OR_RETURN(state_->sub,
                      state_->nats.subscribe(contract::subject::rpc_served(state_->service), state_->service,
                                             [weak](bus::Message&& msg) {
                                               if (msg.reply.empty()) return;  // nobody to answer
                                               auto st = weak.lock();
                                               if (!st) return;
                                               auto shared = std::make_shared<bus::Message>(std::move(msg));
                                               st->pool.submit([st, shared] { st->handle(std::move(*shared)); });
                                             }));
  return ok();
}

void RpcServer::stop() {
  if (!state_) return;
  if (state_->sub) {
    (void)state_->sub->drain();
    state_->sub.reset();
  }
  state_->pool.stop();
}

void forward_rpc(bus::Connection& nats, std::string_view owner, std::string_view caller, const http::Request& request,
                 std::chrono::milliseconds timeout, http::Reply reply, const std::vector<std::string>& pass_headers) {
  bus::Headers headers;
  headers.reserve(5);
  headers.push_back({"Dm-Method", request.method});
  headers.push_back({"Dm-Target", request.target});
  if (auto ct = request.header("Content-Type")) headers.push_back({"Content-Type", *ct});
  if (auto uid = request.header("Dm-User-Id")) headers.push_back({"Dm-User-Id", *uid});
  if (auto role = request.header("Dm-Role")) headers.push_back({"Dm-Role", *role});
  for (const auto& name : pass_headers) {
    if (auto v = request.header(name)) headers.push_back({name, *v});
  }
  std::string svc(owner);
  nats.request_async(
      contract::subject::rpc(owner, caller), request.body, timeout,
      [reply = std::move(reply), svc](Result<bus::Message> r) {
        if (!r) {
          bool timed_out = r.error().code == Errc::timeout;
          reply(http::Response::error(timed_out ? 504 : 503, timed_out
                                                                 ? "The " + svc + " service did not answer in time"
                                                                 : "The " + svc + " service is unavailable"));
          return;
        }
        http::Response res;
        res.status = 502;
        if (auto status = r->header("Dm-Status")) {
          int code = 0;
          auto [p, ec] = std::from_chars(status->data(), status->data() + status->size(), code);
          if (ec == std::errc() && code >= 100 && code < 600) res.status = code;
        }
        for (const auto& h : r->headers) {
          if (h.key == "Content-Type") res.headers.set("Content-Type", h.value);
          for (const char* pass : kPassThroughHeaders) {
            if (h.key == pass) res.headers.set(pass, h.value);
          }
        }
        res.body = std::move(r->data);
        reply(std::move(res));
      },
      headers);
}

Result<std::unique_ptr<RpcServer>> serve_rpc(Runtime& rt, std::shared_ptr<const http::Router> router,
                                             std::size_t workers) {
  if (workers == 0) workers = static_cast<std::size_t>(rt.settings().db_pool_size);
  auto server = std::make_unique<RpcServer>(rt.rpc(), rt.spec().name, std::move(router), workers);
  DM_TRY(server->start());
  return server;
}

}  // namespace dm::service
