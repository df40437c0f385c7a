#pragma once
// Routes (method, pattern) to handlers. Patterns are FastAPI-like: "/api/v1/devices/{id}/labels";
// a last segment "{name:path}" takes the rest of the path, slashes included.
#include <memory>
#include <string>
#include <vector>

#include "dm/http/message.hpp"

namespace dm::http {

struct Route {
  std::string method;
  std::string pattern;
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  void add(std::string method, std::string pattern, Handler handler);
  void add_sync(std::string method, std::string pattern, SyncHandler handler);

  // Literal segments win over parameters ("/devices/history" beats "/devices/{id}").
  // No match → 404 {"detail":"Not Found"}; the path matches but the method doesn't → 405
  // {"detail":"Method Not Allowed"} with an Allow header. A trailing slash is tolerated.
  // HEAD falls back to the GET route (the server drops the body). Path parameters are
  // percent-decoded per segment, so "%2F" inside a parameter stays in that parameter.
  // A handler that throws is answered 500; `reply` is called exactly once.
  void dispatch(Request& request, Reply reply) const;

  // Every (method, pattern) in registration order, for OpenAPI drift checks.
  std::vector<Route> routes() const;

  // Wraps every dispatch (auth, metrics) without touching the endpoints. The first `use`d
  // middleware is the outermost. Middleware also sees 404/405 answers (request.route is empty
  // then). `next` is only valid during the call: call it synchronously, or copy it.
  using Middleware = std::function<void(const Request&, Reply, const Handler& next)>;
  void use(Middleware m);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::http
