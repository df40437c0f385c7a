#pragma once
// Hermetic test support: free ports, temporary folders, child processes, and real
// servers (nats-server, PostgreSQL, mosquitto) started on loopback for one test run
// and stopped when the fixture goes out of scope.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace dm::testing {

// Polls until pred() holds or the timeout passes; returns pred()'s last value.
template <typename F>
bool eventually(F pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read, close), never one
// this process was given before.
int free_port();
// True once something accepts TCP connections on 127.0.0.1:port.
bool wait_for_port(int port, std::chrono::milliseconds timeout);
// The whole text of a file ("" if there is none), and how many times `needle` occurs in it.
std::string read_text(const std::string& path);
std::size_t count_in_file(const std::string& path, std::string_view needle);

// A folder under $TMPDIR removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "dm-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process in its own process group; killed (SIGTERM, then SIGKILL) on destruction.
class Process {
 public:
  // argv[0] is looked up in PATH. stdout/stderr go to `log_path` if given.
  Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env = {},
          const std::string& log_path = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `sig` and waits up to `timeout` for exit; returns the exit status or -1.
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void kill9();
  // Waits for the process to exit on its own.
  int wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Runs a command to completion; returns its exit code and captured stdout+stderr.
struct CommandResult {
  int exit_code;
  std::string output;
};
CommandResult run_command(const std::string& shell_command);

// nats-server with JetStream (file storage) on a free port.
class NatsServer {
 public:
  // A node of a JetStream cluster: its server name, the cluster's name and route port, and
  // the route ports of every node (its own included; nats-server skips itself).
  struct ClusterNode {
    std::string server_name, cluster_name;
    int route_port = 0;
    std::vector<int> routes;
  };
  NatsServer();
  explicit NatsServer(ClusterNode node);
  ~NatsServer();
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& server_name() const { return node_.server_name; }
  bool running() const { return proc_ != nullptr; }
  void stop();   // graceful
  void kill9();  // abrupt
  void start();  // again, same port and store (after stop/kill9)

 private:
  bool launch();  // true once this process (not another test's) listens on port_

  TempDir dir_;
  int port_;
  ClusterNode node_;  // empty server_name: a single server
  std::unique_ptr<Process> proc_;
};

// n nats-server nodes on loopback, each with JetStream and its own store; with n > 1 they form
// one cluster (routes between all of them, a cluster name of their own so that no other test's
// nodes can join) and replicate streams by Raft. n = 1 is a plain single server.
class NatsCluster {
 public:
  explicit NatsCluster(int nodes = 1);
  int size() const { return static_cast<int>(nodes_.size()); }
  NatsServer& node(int i) { return *nodes_.at(static_cast<std::size_t>(i)); }
  // Every node's URL, comma-separated (what a service's NATS_URL takes).
  std::string urls() const;

 private:
  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

// A private PostgreSQL 15 cluster (initdb, trust auth on loopback) on a free port.
// Works as root: the cluster is owned and run by the `postgres` system user.
class PgCluster {
 public:
  PgCluster();
  ~PgCluster();
  int port() const { return port_; }
  // Superuser URL for `database` (created on first use by create_database).
  std::string url(const std::string& database = "postgres") const;
  // Creates a database; returns its superuser URL.
  std::string create_database(const std::string& name);
  // Runs SQL as superuser with psql; returns exit code and output.
  CommandResult psql(const std::string& database, const std::string& sql) const;
  // Makes and frees `megabytes` of WAL segments (then a checkpoint), so the cluster reuses
  // them as one that has run a while does, instead of writing each new 16 MB segment full of
  // zeros first: for benchmarks of a running deployment (docs/performance.md).
  void warm_wal(int megabytes);
  void stop();
  void start();

 private:
  std::string dir_;
  int port_;
  bool running_ = false;
};

// mosquitto on a free loopback port with anonymous access (for delivery tests). `persistent`:
// sessions and queued messages survive a stop and start (as a production broker's do).
class Mosquitto {
 public:
  explicit Mosquitto(bool persistent = false);
  ~Mosquitto();
  int port() const { return port_; }
  void stop();
  void start();

 private:
  TempDir dir_;
  int port_;
  bool persistent_;
  std::unique_ptr<Process> proc_;
};

// mosquitto_sub on a local broker, writing `-v` lines ("topic payload") to `path`. Returns
// once it is subscribed, instead of sleeping and hoping: it also subscribes to a probe topic of
// its own and publishes there (mosquitto_pub) until the probe comes back. `extra` adds
// arguments, e.g. {"-c", "-i", id} for a session the broker keeps for it while it is away.
// Throws when it is not subscribed within 10 s.
class MqttSubscriber {
 public:
  MqttSubscriber(int port, const std::string& filter, std::string path, int qos = 1,
                 const std::vector<std::string>& extra = {});
  const std::string& path() const { return path_; }
  // The lines received on `filter` so far, in order (the probe's left out).
  std::vector<std::string> lines() const;

 private:
  std::string path_;
  std::string probe_;
  std::unique_ptr<Process> proc_;
};

// The repository root (from DM_SOURCE_DIR set by CTest, else the current folder).
std::string source_dir();
std::string binary_dir();

}  // namespace dm::testing
