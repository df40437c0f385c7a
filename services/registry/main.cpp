// dm-registry: wiring only. See README.md beside this file for what the service owns.
#include "common.hpp"
#include "dm/service/rpc.hpp"
#include "dm/service/runtime.hpp"

namespace dm::registry {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

int main() {
  using namespace dm;
  service::Runtime runtime({
      .name = "registry",
      .scope = "REGISTRY",
      .schema = "registry",
      .default_port = 8002,
      .migrations = &registry::migrations(),
  });
  std::string secret_key;
  registry::DocCache cache;
  std::unique_ptr<bus::Subscription> invalidations;
  std::unique_ptr<registry::Events> events;
  std::unique_ptr<registry::Context> ctx;
  std::unique_ptr<service::RpcServer> rpc;
  return runtime.main(
      // The key derives the key that encrypts stored secrets.
      [&](Config& config) {
        secret_key = service::read_secret_key(config);
        registry::wiring().outbound_allow = config.str("OUTBOUND_ALLOW", "");
      },
      [&](service::Runtime& rt) -> Result<void> {
        registry::wiring().rpc = &rt.rpc();
        events = std::make_unique<registry::Events>(rt.nats(), cache);
        ctx = std::make_unique<registry::Context>(registry::Context{rt.db(), *events, secret_key, &cache});
        // Writes on other replicas make our cached reads stale.
        DM_ASSIGN_OR_RETURN(invalidations, rt.nats().subscribe(registry::kInvalidateSubject, "",
                                                               [&cache](bus::Message&&) { cache.invalidate(); }));
        // The REST routes are served over NATS to the gateway, not on the registry's port.
        auto api = std::make_shared<http::Router>();
        registry::add_device_routes(*api, *ctx);
        registry::add_internal_device_routes(*api, *ctx);
        registry::add_label_routes(*api, *ctx);
        registry::add_function_routes(*api, *ctx);
        registry::add_integration_routes(*api, *ctx);
        registry::add_storage_routes(*api, *ctx);
        registry::add_flow_routes(*api, *ctx);
        registry::add_search_routes(*api, *ctx);
        rpc = std::make_unique<service::RpcServer>(rt.rpc(), "registry", api,
                                                   static_cast<std::size_t>(rt.settings().db_pool_size));
        DM_TRY(rpc->start());
        rt.on_shutdown([&] { rpc->stop(); });
        return ok();
      });
}
