#include "dm/service/runtime.hpp"

#include <unistd.h>

#include <thread>

#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/shutdown.hpp"
#include "dm/http/server.hpp"
#include "dm/json/json.hpp"

namespace dm::service {
namespace {

constexpr auto kStartupWait = std::chrono::seconds(60);

// Retries `attempt` until it succeeds or the deadline passes: services may start before
// their database (compose, Kubernetes), and should wait for it rather than crash-loop.
template <typename F>
auto retry_until(std::chrono::steady_clock::time_point deadline, const char* what, F attempt) -> decltype(attempt()) {
  auto delay = std::chrono::milliseconds(200);
  while (true) {
    auto r = attempt();
    if (r.ok() || r.error().code != Errc::unavailable || std::chrono::steady_clock::now() > deadline ||
        Shutdown::requested())
      return r;
    log::warn("waiting for dependency", {{"dependency", what}, {"error", r.error().message}});
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(2000));
  }
}

std::string hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

std::string read_secret_key(Config& config) {
  std::string key = config.required("SECRET_KEY");
  if (key.empty()) return key;
  if (key.size() < 32)
    config.add_problem("SECRET_KEY must be at least 32 bytes long (it signs tokens and derives encryption keys)");
  if (key.find("CHANGE_ME") != std::string::npos || key == "your-secret-key-here") {
    config.add_problem("SECRET_KEY is the example value; generate one, e.g. `openssl rand -hex 32`");
  }
  return key;
}

Runtime::Runtime(Spec spec) : spec_(std::move(spec)), config_(spec_.scope), router_(std::make_shared<http::Router>()) {}

Runtime::~Runtime() = default;

void Runtime::add_readiness_check(std::string name, std::function<Result<void>()> check) {
  readiness_.emplace_back(std::move(name), std::move(check));
}

Result<void> Runtime::load_settings(const std::function<void(Config&)>& configure) {
  const char* env_file = std::getenv("DM_ENV_FILE");
  DM_TRY(config_.load_env_file(env_file && *env_file ? env_file : ".env"));
  auto& c = config_;
  settings_.log_level = c.one_of("LOG_LEVEL", "info", {"debug", "info", "warning", "warn", "error", "critical"});
  settings_.debug = c.boolean("DEBUG", false);
  if (spec_.public_api) {
    settings_.host = c.str("API_HOST", "0.0.0.0");
    settings_.port = static_cast<int>(c.integer("API_PORT", spec_.default_port, 1, 65535));
  } else {
    settings_.host = c.str(spec_.scope + "_HOST", c.str("HOST", "0.0.0.0"));
    settings_.port = static_cast<int>(c.integer(spec_.scope + "_PORT", spec_.default_port, 0, 65535));
  }
  settings_.nats_url = c.str("NATS_URL", "nats://127.0.0.1:4222");
  if (settings_.nats_url.rfind("nats://", 0) != 0 && settings_.nats_url.rfind("tls://", 0) != 0) {
    c.add_problem("NATS_URL must start with nats:// or tls://");
  }
  if (spec_.database) {
    settings_.database_url = c.required("DATABASE_URL");  // scoped: <SCOPE>_DATABASE_URL first
    if (!settings_.database_url.empty() && settings_.database_url.rfind("postgres", 0) != 0) {
      c.add_problem(c.scoped_key("DATABASE_URL") + " must be a postgresql:// URL");
    }
    settings_.db_pool_size = static_cast<int>(c.integer("DB_POOL_SIZE", 4, 1, 100));
  }
  settings_.http_threads = static_cast<int>(c.integer("HTTP_THREADS", spec_.default_http_threads, 1, 64));
  settings_.body_limit = static_cast<std::size_t>(c.integer("BODY_LIMIT_BYTES", 1 << 20, 1024, 64 << 20));
  if (configure) configure(c);
  return c.validate();
}

Result<void> Runtime::connect() {
  auto deadline = std::chrono::steady_clock::now() + kStartupWait;
  bus::Options opts;
  opts.url = settings_.nats_url;
  opts.name = spec_.name + "@" + hostname();
  opts.user = config_.str("NATS_USER", "");
  opts.password = config_.str("NATS_PASSWORD", "");
  // Replies come back under the service's own prefix, where only it may subscribe.
  opts.inbox_prefix = contract::subject::inbox_prefix(spec_.name);
  DM_ASSIGN_OR_RETURN(nats_, bus::Connection::connect(opts));
  opts.name += "/rpc";
  opts.send_asap = true;
  DM_ASSIGN_OR_RETURN(rpc_, bus::Connection::connect(opts));
  if (!spec_.database) return ok();

  db::PoolOptions po;
  po.url = settings_.database_url;
  po.size = settings_.db_pool_size;
  po.schema = spec_.schema;
  po.application_name = "dm-" + spec_.name;
  DM_ASSIGN_OR_RETURN(db_, db::Pool::open(po));
  static const std::vector<db::Migration> kNone;
  const auto& migrations = spec_.migrations ? *spec_.migrations : kNone;
  DM_ASSIGN_OR_RETURN(int applied,
                      retry_until(deadline, "postgresql", [&] { return db::migrate(*db_, spec_.schema, migrations); }));
  log::info("migrations applied",
            {{"schema", spec_.schema}, {"applied", applied}, {"known", static_cast<int>(migrations.size())}});
  return ok();
}

void Runtime::add_health_routes() {
  router_->add_sync("GET", "/healthz",
                    [](const http::Request&) { return http::Response::json(200, R"({"status":"ok"})"); });
  router_->add_sync("GET", "/readyz", [this](const http::Request&) {
    json::Writer w;
    bool ready = true;
    w.start_object().key("checks").start_object();
    auto report = [&](const std::string& name, const Result<void>& r) {
      ready = ready && r.ok();
      w.field(name, r.ok() ? std::string("ok") : r.error().message);
    };
    report("nats", nats_->connected() ? Result<void>() : Error(Errc::unavailable, "not connected"));
    if (db_) report("database", db_->ping());
    for (const auto& [name, check] : readiness_) report(name, check());
    // The pid lets a supervisor (or a test) tell this process from another one on the same port.
    w.end_object().field("status", ready ? "ready" : "not_ready").field("pid", static_cast<std::int64_t>(::getpid()));
    w.end_object();
    return http::Response::json(ready ? 200 : 503, w.take());
  });
  router_->add_sync("GET", "/metrics", [this](const http::Request&) {
    return http::Response::text(200, metrics_.render(), "text/plain; version=0.0.4");
  });
}

int Runtime::main(const std::function<void(Config&)>& configure, const std::function<Result<void>(Runtime&)>& setup) {
  Shutdown::install();
  log::init(spec_.name, log::Level::info);
  if (auto r = load_settings(configure); !r) {
    log::error(r.error().message);
    return 2;
  }
  log::init(spec_.name, log::parse_level(settings_.log_level));
  if (auto r = connect(); !r) {
    log::error("start-up failed", {{"error", r.error().message}});
    return 1;
  }
  metrics::add_process_metrics(metrics_);
  auto& requests =
      metrics_.counter("dm_http_requests_total", "HTTP requests served.", "service=\"" + spec_.name + "\"");
  router_->use([&requests](const http::Request& req, http::Reply reply, const http::Handler& next) {
    requests.inc();
    next(req, std::move(reply));
  });
  metrics_.on_collect([this] {
    auto s = nats_->stats();
    metrics_.gauge("dm_nats_in_msgs", "Messages received from NATS.").set(static_cast<double>(s.in_msgs));
    metrics_.gauge("dm_nats_out_msgs", "Messages sent to NATS.").set(static_cast<double>(s.out_msgs));
    metrics_.gauge("dm_nats_reconnects", "NATS reconnections.").set(static_cast<double>(s.reconnects));
    if (!db_) return;
    auto p = db_->stats();
    metrics_.gauge("dm_db_pool_in_use", "Database connections in use.").set(p.in_use);
    metrics_.gauge("dm_db_pool_size", "Database connections open.").set(p.size);
  });
  add_health_routes();
  if (setup) {
    if (auto r = setup(*this); !r) {
      log::error("setup failed", {{"error", r.error().message}});
      return 1;
    }
  }
  http::ServerOptions so;
  so.host = settings_.host;
  so.port = settings_.port;
  so.threads = settings_.http_threads;
  so.body_limit = settings_.body_limit;
  so.server_name = "dm-" + spec_.name;
  http::Server server(so, router_);
  if (auto r = server.start(); !r) {
    log::error("cannot listen", {{"host", settings_.host}, {"port", settings_.port}, {"error", r.error().message}});
    return 1;
  }
  log::info("started", {{"host", settings_.host}, {"port", server.port()}, {"pid", static_cast<int>(::getpid())}});

  int sig = Shutdown::wait();
  log::info("stopping", {{"signal", sig}});
  // Order matters: stop taking new HTTP work, let workers finish what they hold,
  // then drain NATS so every publish and ack is flushed before exit.
  server.stop(std::chrono::seconds(10));
  for (auto it = shutdown_hooks_.rbegin(); it != shutdown_hooks_.rend(); ++it) (*it)();
  if (auto r = nats_->drain(std::chrono::seconds(10)); !r) log::warn("nats drain", {{"error", r.error().message}});
  if (auto r = rpc_->drain(std::chrono::seconds(5)); !r) log::warn("nats drain", {{"error", r.error().message}});
  log::info("stopped");
  return 0;
}

}  // namespace dm::service
