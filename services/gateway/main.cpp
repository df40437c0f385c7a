// dm-gateway: wiring only. See README.md beside this file for what the service owns.
#include "dm/service/rpc.hpp"
#include "dm/service/runtime.hpp"
#include "docs.hpp"
#include "openapi.hpp"
#include "routes.hpp"

namespace dm::gateway {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

int main() {
  using namespace dm;
  service::Runtime runtime({
      .name = "gateway",
      .scope = "GATEWAY",
      .schema = "gateway",
      .default_port = 8000,
      .migrations = &gateway::migrations(),
      .public_api = true,
  });
  std::chrono::milliseconds rpc_timeout{10000};
  std::string docs_dir;
  return runtime.main(
      [&](Config& config) {
        // The key signs tokens and derives the key that encrypts stored secrets.
        service::read_secret_key(config);
        rpc_timeout = config.millis("RPC_TIMEOUT", std::chrono::seconds(10));
        docs_dir = config.str("DOCS_ASSETS_DIR", DM_DEFAULT_DOCS_DIR);
      },
      [&](service::Runtime& rt) -> Result<void> {
        auto& router = rt.router();
        // Headers that carry the principal between services are ours to set, never a client's.
        router.use([](const http::Request& req, http::Reply reply, const http::Handler& next) {
          if (!req.headers.contains("Dm-User-Id") && !req.headers.contains("Dm-Role")) return next(req, std::move(reply));
          http::Request clean = req;
          clean.headers.remove("Dm-User-Id");
          clean.headers.remove("Dm-Role");
          next(clean, std::move(reply));
        });
        for (const auto& route : gateway::route_table()) {
          std::string service = route.service;
          router.add(route.method, route.path, [&rt, service, rpc_timeout](const http::Request& req, http::Reply reply) {
            service::forward_rpc(rt.rpc(), service, req, rpc_timeout, std::move(reply));
          });
        }
        gateway::add_docs_routes(router, docs_dir, gateway::build_openapi("/"));
        return ok();
      });
}
