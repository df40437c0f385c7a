#include "registry_reads.hpp"

#include <memory>

#include "dm/contract/subjects.hpp"
#include "dm/service/rpc.hpp"

namespace dm::gateway {

RegistryReads::RegistryReads(std::chrono::milliseconds ttl)
    : enabled_(ttl.count() > 0), cache_(20000, std::chrono::duration_cast<std::chrono::steady_clock::duration>(ttl)) {}

void RegistryReads::forward(bus::Connection& rpc, const http::Request& request, std::chrono::milliseconds timeout,
                            http::Reply reply, const std::vector<std::string>& pass_headers) {
  if (!enabled_)
    return service::forward_rpc(rpc, contract::kRegistry, contract::kGateway, request, timeout, std::move(reply),
                                pass_headers);
  if (request.method != "GET") {
    service::forward_rpc(
        rpc, contract::kRegistry, contract::kGateway, request, timeout,
        [this, reply = std::move(reply)](http::Response res) {
          cache_.invalidate();
          reply(std::move(res));
        },
        pass_headers);
    return;
  }
  // The target (path and query) names the answer: the same page of the same list is the
  // same answer whoever asks.
  if (auto hit = cache_.get(request.target)) return reply(std::move(*hit));
  auto generation = cache_.generation();
  service::forward_rpc(
      rpc, contract::kRegistry, contract::kGateway, request, timeout,
      [this, key = request.target, generation, reply = std::move(reply)](http::Response res) {
        if (res.status == 200) cache_.put(key, res, generation);
        reply(std::move(res));
      },
      pass_headers);
}

}  // namespace dm::gateway
