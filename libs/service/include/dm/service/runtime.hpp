#pragma once
// The common life of every service: load and validate configuration, start logging,
// connect to NATS and PostgreSQL (as the service's own role, in its own schema),
// apply migrations, serve /healthz, /readyz and /metrics next to the service's own
// routes, and stop cleanly on SIGTERM. A service's main() only names itself and
// wires its handlers in `setup`. A service without a database (Spec::database = false)
// skips everything about PostgreSQL.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/core/config.hpp"
#include "dm/core/result.hpp"
#include "dm/db/db.hpp"
#include "dm/db/migrations.hpp"
#include "dm/http/router.hpp"
#include "dm/metrics/metrics.hpp"

namespace dm::service {

struct Spec {
  std::string name;    // "ingest": logs, NATS client name, metrics label
  std::string scope;   // "INGEST": prefix of the service's own configuration keys
  std::string schema;  // PostgreSQL schema the service owns
  int default_port = 0;
  const std::vector<db::Migration>* migrations = nullptr;
  // The gateway reads API_HOST / API_PORT (the original's names) instead of <SCOPE>_HOST/_PORT.
  bool public_api = false;
  // HTTP I/O threads unless HTTP_THREADS says otherwise (busy front doors want one per core).
  int default_http_threads = 1;
  // false: the service keeps nothing in PostgreSQL, so it is given no database credentials at
  // all (least privilege). DATABASE_URL and DB_POOL_SIZE are not read, no pool is opened, no
  // migrations run, /readyz has no database check and db() must not be called.
  bool database = true;
};

// Settings every service reads; available to setup() after validation.
struct Settings {
  std::string host;
  int port = 0;
  std::string nats_url;
  std::string database_url;  // empty without a database
  bool debug = false;
  std::string log_level;
  int http_threads = 1;
  std::size_t body_limit = 1 << 20;
  int db_pool_size = 4;
};

// Reads SECRET_KEY and records a problem unless it is at least 32 bytes and not the
// example value from .env.example (a copied example key is no secret).
std::string read_secret_key(Config& config);

class Runtime {
 public:
  explicit Runtime(Spec spec);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // `configure` reads the service's own keys (recording problems in the Config) before
  // validation; `setup` wires routes and subscriptions once everything is connected.
  // Returns the process exit code.
  int main(const std::function<void(Config&)>& configure, const std::function<Result<void>(Runtime&)>& setup);

  const Spec& spec() const { return spec_; }
  const Settings& settings() const { return settings_; }
  Config& config() { return config_; }
  // For bulk publishing and subscriptions.
  bus::Connection& nats() { return *nats_; }
  std::shared_ptr<bus::Connection> nats_shared() { return nats_; }
  // Low-latency connection (send-asap) for request/reply.
  bus::Connection& rpc() { return *rpc_; }
  // Only for a service with a database (Spec::database).
  db::Pool& db() { return *db_; }
  http::Router& router() { return *router_; }
  metrics::Registry& metrics() { return metrics_; }

  // Run in reverse order of registration after the HTTP server stopped and before NATS drains.
  void on_shutdown(std::function<void()> hook) { shutdown_hooks_.push_back(std::move(hook)); }
  // Extra readiness checks reported by /readyz (beside nats and, with one, the database).
  void add_readiness_check(std::string name, std::function<Result<void>()> check);

 private:
  Result<void> load_settings(const std::function<void(Config&)>& configure);
  Result<void> connect();
  void add_health_routes();

  Spec spec_;
  Config config_;
  Settings settings_;
  std::shared_ptr<bus::Connection> nats_;
  std::shared_ptr<bus::Connection> rpc_;
  std::unique_ptr<db::Pool> db_;
  std::shared_ptr<http::Router> router_;
  metrics::Registry metrics_;
  std::vector<std::pair<std::string, std::function<Result<void>()>>> readiness_;
  std::vector<std::function<void()>> shutdown_hooks_;
};

}  // namespace dm::service
