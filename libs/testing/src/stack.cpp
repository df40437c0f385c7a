#include "dm/testing/stack.hpp"

#include <signal.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "dm/core/strings.hpp"

namespace dm::testing {
namespace {
constexpr const char* kDatabase = "device_manager";
constexpr const char* kPassword = "test-password";  // test clusters only: loopback, temporary
}  // namespace

std::string Stack::binary_of(const std::string& service) { return service.substr(0, service.find('#')); }

std::string Stack::scope_of(const std::string& service) {
  const std::string s = binary_of(service);
  if (s == "gateway") return "GATEWAY";
  if (s == "ingest") return "INGEST";
  if (s == "registry") return "REGISTRY";
  if (s == "flow-orchestrator") return "ORCHESTRATOR";
  if (s == "function-runner") return "RUNNER";
  if (s == "integration-dispatcher") return "DISPATCHER";
  throw std::runtime_error("unknown service " + s);
}

std::string Stack::role_of(const std::string& s) { return "dm_" + lower(scope_of(s)); }

bool Stack::has_database(const std::string& s) { return binary_of(s) != "function-runner"; }

bool Stack::holds_secret_key(const std::string& s) { return binary_of(s) == "gateway" || binary_of(s) == "registry"; }

Stack::Stack(const std::vector<std::string>& services, std::map<std::string, std::string> env, int nats_nodes)
    : nats_(std::make_unique<NatsCluster>(nats_nodes)),
      pg_(std::make_unique<PgCluster>()),
      dir_("dm-stack"),
      extra_env_(std::move(env)),
      secret_key_("test-secret-key-0123456789abcdef0123456789abcdef") {
  extra_env_.emplace("STREAM_REPLICAS", std::to_string(nats_->size()));  // unless the test set it
  std::string vars;
  for (const char* v : {"gateway", "ingest", "registry", "orchestrator", "dispatcher"}) {
    vars += std::string(" -v ") + v + "_password=" + kPassword;
  }
  auto r = run_command("psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " + std::to_string(pg_->port()) +
                       " -U postgres -d postgres" + vars + " -f " + source_dir() + "/deploy/local/provision.sql");
  if (r.exit_code != 0) throw std::runtime_error("provisioning failed: " + r.output);
  provision();
  for (const auto& s : services) {
    services_[s].port = free_port();
    services_[s].log_path = dir_.path() + "/" + s + ".log";
  }
  for (const auto& s : services) start(s);
  for (const auto& s : services) {
    // A port found free can be bound by another test's server first: the service then exits
    // saying it cannot listen, and gets another port.
    for (int attempt = 1; !wait_ready(s, std::chrono::seconds(30)); ++attempt) {
      if (attempt == 3 || running(s) || log(s).find("cannot listen") == std::string::npos)
        throw std::runtime_error(s + " did not become ready; log:\n" + log(s));
      services_[s].port = free_port();
      start(s);
    }
  }
}

Stack::~Stack() {
  for (auto& [name, s] : services_) s.process.reset();  // SIGTERM, then SIGKILL after 10 s
}

std::map<std::string, std::string> Stack::env_for(const std::string& service) const {
  const auto& s = services_.at(service);
  std::string scope = scope_of(service);
  std::map<std::string, std::string> env{
      {"NATS_URL", nats_->urls()},
      {"LOG_LEVEL", "info"},
      {"DM_ENV_FILE", "/nonexistent"},  // never pick up a developer's .env
  };
  if (holds_secret_key(service)) env["SECRET_KEY"] = secret_key_;
  if (has_database(service)) env[scope + "_DATABASE_URL"] = database_url(service);
  if (service == "gateway") {
    env["API_HOST"] = "127.0.0.1";
    env["API_PORT"] = std::to_string(s.port);
  } else {
    env[scope + "_HOST"] = "127.0.0.1";
    env[scope + "_PORT"] = std::to_string(s.port);
  }
  for (const auto& [k, v] : extra_env_) env[k] = v;
  return env;
}

std::string Stack::database_url(const std::string& service) const {
  return "postgresql://" + role_of(service) + ":" + kPassword + "@127.0.0.1:" + std::to_string(pg_->port()) + "/" +
         kDatabase;
}

void Stack::start(const std::string& service) {
  auto& s = services_.at(service);
  std::string bin = binary_dir() + "/services/" + binary_of(service) + "/dm-" + binary_of(service);
  s.process = std::make_unique<Process>(std::vector<std::string>{bin}, env_for(service), s.log_path);
}

void Stack::stop(const std::string& service) {
  auto& s = services_.at(service);
  if (s.process) s.process->stop(SIGTERM, std::chrono::seconds(15));
  s.process.reset();
}

void Stack::kill9(const std::string& service) {
  auto& s = services_.at(service);
  if (s.process) s.process->kill9();
  s.process.reset();
}

bool Stack::running(const std::string& service) {
  auto& s = services_.at(service);
  return s.process && s.process->running();
}

void Stack::provision() {
  std::string env = "env DM_ENV_FILE=/nonexistent NATS_URL=" + nats_->urls();
  for (const auto& [k, v] : extra_env_) env += " '" + k + "=" + v + "'";
  auto r = run_command(env + " " + binary_dir() + "/tools/dm-provision --wait 30");
  if (r.exit_code != 0) throw std::runtime_error("dm-provision failed: " + r.output);
}

std::vector<std::string> Stack::services() const {
  std::vector<std::string> out;
  for (const auto& [name, s] : services_) out.push_back(name);
  return out;
}

int Stack::pid(const std::string& service) {
  auto& s = services_.at(service);
  return s.process && s.process->running() ? s.process->pid() : -1;
}

CommandResult Stack::admin_tool(const std::string& args) const {
  return run_command("env DM_ENV_FILE=/nonexistent GATEWAY_DATABASE_URL='" + database_url("gateway") + "' " +
                     binary_dir() + "/tools/dm-admin " + args);
}

std::string Stack::url(const std::string& service) const { return "http://127.0.0.1:" + std::to_string(port(service)); }

int Stack::port(const std::string& service) const { return services_.at(service).port; }

std::string Stack::log(const std::string& service) const { return read_text(services_.at(service).log_path); }

bool Stack::wait_ready(const std::string& service, std::chrono::milliseconds timeout) {
  auto& s = services_.at(service);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Ready means 200 from this very process: a port found free can be taken by another test's
  // server before ours binds it, and that server would answer in its place.
  const std::string cmd = "curl -s --max-time 2 -w ' %{http_code}' " + url(service) + "/readyz";
  const std::string ours = "\"pid\":" + std::to_string(s.process ? s.process->pid() : -1) + "} 200";
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running(service)) return false;
    auto out = run_command(cmd).output;
    if (out.size() >= ours.size() && out.compare(out.size() - ours.size(), ours.size(), ours) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace dm::testing
