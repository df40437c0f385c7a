#pragma once
// What the gateway's own routes (accounts, keys, users) and its access middleware share.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "authenticator.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/http/router.hpp"
#include "store.hpp"
#include "throttle.hpp"

namespace dm::gateway {

struct AuthSettings {
  std::string secret_key;
  std::chrono::seconds token_lifetime{3600};
  bool allow_registration = true;
  Role default_role = Role::viewer;
  // Peers whose X-Forwarded-For is believed (a reverse proxy in front of the gateway).
  std::vector<std::string> trusted_proxies;
};

struct AuthContext {
  Store& store;
  Authenticator& auth;
  LoginThrottle& throttle;
  // Failed authentications per client address (401s, wrong passwords): 429 once spent.
  AddressBudget& failures;
  // Registrations per client address.
  AddressBudget& registrations;
  // Password hashing and database calls run here, never on the HTTP threads.
  ThreadPool& work;
  AuthSettings settings;
  // Called after every committed change of a user or key: clears caches here and on
  // the other replicas.
  std::function<void()> changed;
};

// The principal as set by the access middleware (Dm-User-Id / Dm-Role).
struct Caller {
  std::string user_id;
  Role role = Role::viewer;
};
Caller caller_of(const http::Request& request);

// The client's address: the peer, or the last X-Forwarded-For hop when the peer is trusted;
// an IPv6 client as its /64 (address_key), which is what throttles count.
std::string client_address(const http::Request& request, const std::vector<std::string>& trusted_proxies);

// 429 with Retry-After.
http::Response too_many(std::string_view detail, std::int64_t retry_after_seconds);

// Enforces the role of every table route in one place, and the failure budget of every
// client address (see access.cpp).
void use_access_control(http::Router& router, AuthContext& ctx);

void add_account_routes(http::Router& router, AuthContext& ctx);  // register, login, me, password
void add_api_key_routes(http::Router& router, AuthContext& ctx);
void add_user_routes(http::Router& router, AuthContext& ctx);

// Registers a handler that runs on ctx.work (it may hash passwords or wait for the database).
void add_blocking(http::Router& router, AuthContext& ctx, const char* method, const char* path,
                  std::function<http::Response(const http::Request&)> handler);

// 503 for an unreachable database, 500 (logged) otherwise.
http::Response store_failure(const Error& e);

}  // namespace dm::gateway
