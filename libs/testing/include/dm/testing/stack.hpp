#pragma once
// A whole Device Manager stack for one test: nats-server (one, or a JetStream cluster of
// `nats_nodes` with streams replicated on every node) and a PostgreSQL cluster on free ports, provisioned with
// deploy/local/provision.sql (one role and schema per service), and the requested service binaries started on free
// ports and waited for (/readyz). Each service gets only the secrets it uses, as in deploy/local/up: SECRET_KEY only
// the gateway and the registry, a database URL every service but the function runner. A replica of a service is named
// "<service>#<n>" ("flow-orchestrator#2"): the same binary and settings, its own port and process.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dm/testing/testing.hpp"

namespace dm::testing {

class Stack {
 public:
  // `services`: names such as "gateway", "registry". `env` is added to every service's
  // environment (and wins over the defaults).
  explicit Stack(const std::vector<std::string>& services, std::map<std::string, std::string> env = {},
                 int nats_nodes = 1);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  std::string url(const std::string& service) const;  // http://127.0.0.1:<port>
  int port(const std::string& service) const;
  NatsServer& nats() { return nats_->node(0); }
  NatsCluster& nats_cluster() { return *nats_; }
  // Every service this stack runs (replicas included).
  std::vector<std::string> services() const;
  PgCluster& pg() { return *pg_; }
  std::string database_url(const std::string& service) const;
  const std::string& secret_key() const { return secret_key_; }

  void start(const std::string& service);
  void stop(const std::string& service);  // SIGTERM, waits
  void kill9(const std::string& service);
  bool running(const std::string& service);
  // The service's process id (-1 when it is not running): for signals a test sends itself
  // (SIGSTOP, SIGCONT) and for finding its children.
  int pid(const std::string& service);
  // The service's log so far (for failure messages).
  std::string log(const std::string& service) const;
  // Waits until GET /readyz answers 200 from the process this stack started (its pid), not
  // from another test's server that took the port first.
  bool wait_ready(const std::string& service, std::chrono::milliseconds timeout);

  // Runs tools/admin's dm-admin (e.g. "create-admin a@b.c admin password123") against this
  // stack's gateway database, as the gateway's role.
  CommandResult admin_tool(const std::string& args) const;

  // Runs dm-provision (streams and consumers) against this stack's NATS with the stack's extra
  // environment; the constructor does, before any service starts. Throws when it fails.
  void provision();

  static std::string scope_of(const std::string& service);
  // "flow-orchestrator" for "flow-orchestrator#2".
  static std::string binary_of(const std::string& service);
  static std::string role_of(const std::string& service);
  // Whether the service keeps data in PostgreSQL (the function runner does not).
  static bool has_database(const std::string& service);
  // Whether the service is given SECRET_KEY (it signs tokens or seals stored secrets).
  static bool holds_secret_key(const std::string& service);

 private:
  struct Service {
    int port = 0;
    std::string log_path;
    std::unique_ptr<Process> process;
  };
  std::map<std::string, std::string> env_for(const std::string& service) const;

  std::unique_ptr<NatsCluster> nats_;
  std::unique_ptr<PgCluster> pg_;
  TempDir dir_;
  std::map<std::string, std::string> extra_env_;
  std::map<std::string, Service> services_;
  std::string secret_key_;
};

}  // namespace dm::testing
