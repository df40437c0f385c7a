// dm-gateway: wiring only. See README.md beside this file for what the service owns.
#include "auth_context.hpp"
#include "console.hpp"
#include "dm/contract/caches.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/strings.hpp"
#include "dm/core/uuid.hpp"
#include "dm/service/rpc.hpp"
#include "dm/service/runtime.hpp"
#include "docs.hpp"
#include "events.hpp"
#include "openapi.hpp"
#include "registry_reads.hpp"
#include "routes.hpp"

namespace dm::gateway {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

namespace {
using namespace dm;

// Every replica clears its caches of users and keys when one of them commits a change.
constexpr const char* kAuthChangedSubject = dm::contract::subject::kAuthChanged;
// The registry announces here that cached reads are stale (proto/README.md).
constexpr const char* kRegistryInvalidateSubject = dm::contract::subject::kRegistryInvalidate;

struct GatewayConfig {
  gateway::AuthSettings auth;
  std::chrono::milliseconds rpc_timeout{10000};
  std::chrono::milliseconds cache_ttl{2000};
  std::chrono::milliseconds read_cache_ttl{5000};
  std::string docs_dir;
  std::string console_dir;
  gateway::EventLimits events;
  int failure_limit = 200;
  int registration_limit = 10;
};

// "a, b,,c" → {"a", "b", "c"}.
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  for (auto part : dm::split(text, ',')) {
    if (auto item = dm::trim(part); !item.empty()) out.emplace_back(item);
  }
  return out;
}

GatewayConfig read_config(Config& config) {
  GatewayConfig gc;
  // The key signs tokens and derives the key that encrypts stored secrets.
  gc.auth.secret_key = service::read_secret_key(config);
  gc.auth.token_lifetime = std::chrono::minutes(config.integer("ACCESS_TOKEN_EXPIRE_MINUTES", 60, 1, 60LL * 24 * 30));
  gc.auth.allow_registration = config.boolean("ALLOW_REGISTRATION", true);
  gc.auth.default_role =
      *gateway::parse_role(config.one_of("DEFAULT_USER_ROLE", "viewer", {"viewer", "editor", "admin"}));
  gc.auth.trusted_proxies = split_list(config.str("TRUSTED_PROXIES", ""));
  gc.cache_ttl = config.millis("AUTH_CACHE_TTL", std::chrono::seconds(2));
  gc.rpc_timeout = config.millis("RPC_TIMEOUT", std::chrono::seconds(10));
  gc.read_cache_ttl = config.millis("READ_CACHE_TTL", std::chrono::seconds(5));
  gc.docs_dir = config.str("DOCS_ASSETS_DIR", DM_DEFAULT_DOCS_DIR);
  gc.console_dir = config.str("CONSOLE_DIR", DM_DEFAULT_CONSOLE_DIR);
  // Live events (GET /api/v1/events): connections, queue per client, life of a stream.
  gc.events.max_connections = static_cast<std::size_t>(config.integer("EVENTS_MAX_CONNECTIONS", 200, 1, 100000));
  gc.events.max_per_user = static_cast<std::size_t>(config.integer("EVENTS_MAX_PER_USER", 8, 1, 1000));
  gc.events.max_subjects = static_cast<std::size_t>(config.integer("EVENTS_MAX_SUBJECTS", 64, 1, 10000));
  gc.events.stream.max_queued_bytes =
      static_cast<std::size_t>(config.integer("EVENTS_QUEUE_BYTES", 256 << 10, 4096, 64 << 20));
  gc.events.stream.keepalive = config.millis("EVENTS_KEEPALIVE", std::chrono::seconds(15),
                                             std::chrono::milliseconds(100), std::chrono::hours(1));
  // 0: streams live until the client leaves (or an account changes).
  gc.events.stream.max_duration =
      config.millis("EVENTS_MAX_AGE", std::chrono::minutes(5), std::chrono::milliseconds(0), std::chrono::hours(24));
  // Per client address: failed authentications per 5 minutes, registrations per hour.
  gc.failure_limit = static_cast<int>(config.integer("AUTH_FAILURE_LIMIT", 200, 0, 1000000));
  gc.registration_limit = static_cast<int>(config.integer("REGISTRATION_LIMIT", 10, 0, 1000000));
  return gc;
}

// What setup builds and shutdown takes apart; it lives as long as main().
struct Gateway {
  // Names this replica in its announcements, so it can tell its own apart.
  std::string origin = "gateway-" + uuid_v7();
  std::unique_ptr<gateway::EventHub> events;
  std::unique_ptr<gateway::Store> store;
  std::unique_ptr<gateway::Authenticator> auth;
  std::unique_ptr<gateway::LoginThrottle> throttle;
  std::unique_ptr<gateway::AddressBudget> failures;
  std::unique_ptr<gateway::AddressBudget> registrations;
  std::unique_ptr<ThreadPool> work;
  std::unique_ptr<gateway::AuthContext> ctx;
  std::unique_ptr<bus::Subscription> auth_changes;
  std::unique_ptr<gateway::RegistryReads> registry_reads;
  std::unique_ptr<bus::Subscription> registry_changes;
};

// Headers that carry the principal between services are ours to set, never a client's.
void strip_principal_headers(http::Router& router) {
  router.use([](const http::Request& req, http::Reply reply, const http::Handler& next) {
    if (!req.headers.contains("Dm-User-Id") && !req.headers.contains("Dm-Role")) return next(req, std::move(reply));
    http::Request clean = req;
    clean.headers.remove("Dm-User-Id");
    clean.headers.remove("Dm-Role");
    next(clean, std::move(reply));
  });
}

// Accounts, keys and their caches, and what the gateway's own routes share.
void start_auth(service::Runtime& rt, const GatewayConfig& cfg, Gateway& gw) {
  gw.store = std::make_unique<gateway::Store>(rt.db());
  gw.auth = std::make_unique<gateway::Authenticator>(
      *gw.store, cfg.auth.secret_key, cfg.cache_ttl,
      &rt.metrics().counter("dm_gateway_api_key_lookups_total", "API key lookups that reached the database"));
  gw.throttle = std::make_unique<gateway::LoginThrottle>();
  gw.failures = std::make_unique<gateway::AddressBudget>(cfg.failure_limit, std::chrono::minutes(5));
  gw.registrations = std::make_unique<gateway::AddressBudget>(cfg.registration_limit, std::chrono::hours(1));
  // Password hashing is CPU-bound: no more threads than the pool has connections.
  gw.work = std::make_unique<ThreadPool>(static_cast<std::size_t>(std::max(1, rt.settings().db_pool_size)), 4096);
  auto* nats = &rt.nats();
  auto* authenticator = gw.auth.get();
  auto* hub = gw.events.get();
  // This replica acts on its own change before the request is answered (a revoked key's
  // streams have ended when the revocation returns); the others act on the announcement.
  gw.ctx = std::make_unique<gateway::AuthContext>(
      gateway::AuthContext{*gw.store, *gw.auth, *gw.throttle, *gw.failures, *gw.registrations, *gw.work, cfg.auth,
                           [nats, authenticator, hub, origin = gw.origin] {
                             authenticator->invalidate();
                             hub->close_all();
                             const auto body = contract::encode(contract::AuthChanged{.origin = origin});
                             if (auto r = nats->publish(kAuthChangedSubject, body); !r) {
                               log::warn("could not announce an auth change", {{"error", r.error().message}});
                             }
                           }});
}

// The live-events hub and its figures for /metrics, refreshed when scraped.
void start_events(service::Runtime& rt, const GatewayConfig& cfg, Gateway& gw) {
  gw.events = std::make_unique<gateway::EventHub>(
      cfg.events, gateway::nats_subscriber(rt.nats()),
      &rt.metrics().counter("dm_gateway_event_streams_dropped_total",
                            "Live event streams dropped because the client fell behind"));
  auto* hub = gw.events.get();
  auto& open_streams = rt.metrics().gauge("dm_gateway_event_streams", "Live event streams open");
  auto& followed = rt.metrics().gauge("dm_gateway_event_subjects", "NATS tap subjects followed for live events");
  rt.metrics().on_collect([hub, &open_streams, &followed] {
    auto stats = hub->stats();
    open_streams.set(static_cast<double>(stats.connections));
    followed.set(static_cast<double>(stats.subjects));
  });
}

// A changed account or key may end someone's access: streams end, and their clients
// reconnect with whatever credentials still work. Any message on these subjects clears
// the caches, whatever else its body holds: clearing too often is safe, missing one is not.
// The one exception is this replica's own announcement, acted on already (start_auth).
Result<void> follow_invalidations(service::Runtime& rt, const GatewayConfig& cfg, Gateway& gw) {
  auto* authenticator = gw.auth.get();
  auto* hub = gw.events.get();
  DM_ASSIGN_OR_RETURN(
      gw.auth_changes,
      rt.nats().subscribe(kAuthChangedSubject, "", [authenticator, hub, origin = gw.origin](const bus::Message& m) {
        // Its own announcement comes back late: acting again would end streams opened since.
        if (auto change = contract::decode_auth_changed(m.data); change && change->origin == origin) return;
        authenticator->invalidate();
        hub->close_all();
      }));
  gw.registry_reads = std::make_unique<gateway::RegistryReads>(cfg.read_cache_ttl);
  auto* reads = gw.registry_reads.get();
  DM_ASSIGN_OR_RETURN(gw.registry_changes, rt.nats().subscribe(kRegistryInvalidateSubject, "",
                                                               [reads](const bus::Message&) { reads->invalidate(); }));
  return ok();
}

// Every table route another service owns is forwarded to it over NATS; the registry's reads
// go through the gateway's read cache.
void forward_to_services(service::Runtime& rt, gateway::RegistryReads& registry_reads,
                         std::chrono::milliseconds rpc_timeout) {
  auto& router = rt.router();
  for (const auto& route : gateway::route_table()) {
    std::string service = route.service;
    if (service == "gateway") continue;  // served by the gateway's own routes
    // Public routes of other services authenticate on their own (the ChirpStack webhook
    // carries the ingest secret), so their credentials travel on; others' never do.
    std::vector<std::string> pass;
    if (route.access == gateway::Access::public_) pass = {"Authorization", "X-API-Key"};
    if (service == "registry") {
      router.add(route.method, route.path,
                 [&rt, reads = &registry_reads, rpc_timeout, pass](const http::Request& req, http::Reply reply) {
                   reads->forward(rt.rpc(), req, rpc_timeout, std::move(reply), pass);
                 });
      continue;
    }
    router.add(route.method, route.path,
               [&rt, service, rpc_timeout, pass](const http::Request& req, http::Reply reply) {
                 service::forward_rpc(rt.rpc(), service, contract::kGateway, req, rpc_timeout, std::move(reply), pass);
               });
  }
}

}  // namespace

int main() {
  using namespace dm;
  service::Runtime runtime({
      .name = "gateway",
      .scope = "GATEWAY",
      .schema = "gateway",
      .default_port = 8000,
      .migrations = &gateway::migrations(),
      .public_api = true,
      .default_http_threads = 2,
  });
  GatewayConfig cfg;
  Gateway gw;
  return runtime.main([&](Config& config) { cfg = read_config(config); },
                      [&](service::Runtime& rt) -> Result<void> {
                        auto& router = rt.router();
                        strip_principal_headers(router);
                        start_events(rt, cfg, gw);
                        start_auth(rt, cfg, gw);
                        DM_TRY(follow_invalidations(rt, cfg, gw));
                        gateway::use_access_control(router, *gw.ctx);
                        gateway::add_account_routes(router, *gw.ctx);
                        gateway::add_api_key_routes(router, *gw.ctx);
                        gateway::add_user_routes(router, *gw.ctx);
                        forward_to_services(rt, *gw.registry_reads, cfg.rpc_timeout);
                        gateway::add_docs_routes(router, cfg.docs_dir, gateway::build_openapi("/"));
                        gateway::add_event_routes(router, *gw.events);
                        gateway::add_console_routes(router, cfg.console_dir);
                        rt.on_shutdown([&] {
                          gw.auth_changes.reset();
                          gw.registry_changes.reset();
                          gw.events.reset();  // the HTTP server has stopped: no stream is left to end
                          gw.work->stop();
                        });
                        return ok();
                      });
}
