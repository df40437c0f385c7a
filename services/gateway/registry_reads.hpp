#pragma once
// The registry's answers to GET routes, kept in the gateway until the registry announces a
// change (`dm.registry.invalidate`, sent after every committed write, device state updates
// included). A hit is answered without the NATS round trip to the registry, which is most
// of what a read costs. Answers do not depend on who asks (the registry masks secrets for
// everyone), and access control runs before this, so sharing them between callers is safe.
#include <chrono>
#include <string>
#include <vector>

#include "dm/bus/connection.hpp"
#include "dm/core/read_cache.hpp"
#include "dm/http/message.hpp"

namespace dm::gateway {

class RegistryReads {
 public:
  // ttl bounds how long an answer can outlive an invalidation lost with the NATS connection;
  // zero disables the cache.
  explicit RegistryReads(std::chrono::milliseconds ttl);

  // GET: from the cache, or forwarded and stored when the answer is 200. Any other method is
  // forwarded, and this gateway's cache is cleared when it answers, so a client reads its
  // own write here even before the registry's announcement arrives.
  void forward(bus::Connection& rpc, const http::Request& request, std::chrono::milliseconds timeout, http::Reply reply,
               const std::vector<std::string>& pass_headers);

  void invalidate() { cache_.invalidate(); }

 private:
  bool enabled_;
  ReadCache<http::Response> cache_;
};

}  // namespace dm::gateway
