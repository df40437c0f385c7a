#pragma once
// The registry's routes, served over NATS (dm.rpc.registry): each module adds its own.
#include "context.hpp"
#include "dm/http/router.hpp"

namespace dm::registry {

void add_device_routes(http::Router& router, Context& ctx);
void add_internal_device_routes(http::Router& router, Context& ctx);
void add_label_routes(http::Router& router, Context& ctx);
void add_function_routes(http::Router& router, Context& ctx);
void add_integration_routes(http::Router& router, Context& ctx);
void add_storage_routes(http::Router& router, Context& ctx);
void add_flow_routes(http::Router& router, Context& ctx);
void add_search_routes(http::Router& router, Context& ctx);

// Brings integrations and storages stored before today's secret rule under it (see
// config_resource.hpp); run once at start-up, before the routes serve. Failing is not fatal.
void reseal_stored_secrets(Context& ctx);

}  // namespace dm::registry
