// dm-registry: wiring only. See README.md beside this file for what the service owns.
#include "dm/core/log.hpp"
#include "dm/service/rpc.hpp"
#include "dm/service/runtime.hpp"
#include "routes.hpp"

namespace dm::registry {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

namespace {

// OUTBOUND_ALLOW, which the dispatcher reads too (and checks again on every connect). A bad
// list allows nothing extra.
dm::http::OutboundPolicy outbound_policy(const std::string& allow_list) {
  auto parsed = dm::http::OutboundPolicy::parse(allow_list);
  if (parsed) return std::move(parsed).value();
  dm::log::error("OUTBOUND_ALLOW ignored", {{"error", parsed.error().message}});
  return {};
}

}  // namespace

int main() {
  using namespace dm;
  service::Runtime runtime({
      .name = "registry",
      .scope = "REGISTRY",
      .schema = "registry",
      .default_port = 8002,
      .migrations = &registry::migrations(),
  });
  std::unique_ptr<registry::SecretBox> secrets;
  http::OutboundPolicy outbound;
  registry::DocCache cache;
  std::unique_ptr<bus::Subscription> invalidations;
  std::unique_ptr<registry::Events> events;
  std::unique_ptr<registry::Context> ctx;
  std::unique_ptr<service::RpcServer> rpc;
  return runtime.main(
      [&](Config& config) {
        // SECRET_KEY derives the key that seals stored secrets.
        secrets = std::make_unique<registry::SecretBox>(service::read_secret_key(config));
        outbound = outbound_policy(config.str("OUTBOUND_ALLOW", ""));
      },
      [&](service::Runtime& rt) -> Result<void> {
        events = std::make_unique<registry::Events>(rt.nats(), cache);
        ctx = std::make_unique<registry::Context>(registry::Context{.db = rt.db(),
                                                                    .events = *events,
                                                                    .secrets = *secrets,
                                                                    .outbound = outbound,
                                                                    .runner = &rt.rpc(),
                                                                    .cache = &cache});
        // Writes on other replicas make our cached reads stale.
        DM_ASSIGN_OR_RETURN(invalidations, rt.nats().subscribe(registry::kInvalidateSubject, "",
                                                               [&cache](bus::Message&&) { cache.invalidate(); }));
        registry::reseal_stored_secrets(*ctx);
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
        DM_ASSIGN_OR_RETURN(rpc, service::serve_rpc(rt, api));
        rt.on_shutdown([&] { rpc->stop(); });
        return ok();
      });
}
