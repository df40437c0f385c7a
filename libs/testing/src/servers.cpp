// Real servers for tests. Each binds a free loopback port and keeps its files in a
// temporary folder, so tests can run side by side and leave nothing behind.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "dm/testing/testing.hpp"

namespace dm::testing {
namespace {

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

// As root, PostgreSQL must run as another user; otherwise as ourselves.
std::string as_pg_user(const std::string& cmd) {
  if (::geteuid() != 0) return cmd;
  return "runuser -u postgres -- " + cmd;
}

}  // namespace

NatsServer::NatsServer() : NatsServer(ClusterNode{}) {}

NatsServer::NatsServer(ClusterNode node) : dir_("dm-nats"), port_(free_port()), node_(std::move(node)) {
  // A port found free can be taken by another test's server before ours binds it. The port then
  // answers, but for someone else, and two stacks would share one bus. So a start counts only
  // when our server's own log says it listens; otherwise try other ports.
  for (int attempt = 1; !launch(); ++attempt) {
    if (attempt == 5)
      throw std::runtime_error("nats-server did not start; log:\n" + read_text(dir_.path() + "/nats.log"));
    port_ = free_port();
    if (!node_.server_name.empty()) node_.route_port = free_port();  // the others find it by gossip
  }
}

NatsServer::~NatsServer() { stop(); }

void NatsServer::start() {
  if (!launch()) throw std::runtime_error("nats-server did not start again on port " + std::to_string(port_));
}

bool NatsServer::launch() {
  const std::string log = dir_.path() + "/nats.log";
  const std::string listening = "Listening for client connections on 127.0.0.1:" + std::to_string(port_);
  const std::size_t before = count_in_file(log, listening);  // the log is appended to across restarts
  std::vector<std::string> argv{"nats-server",         "-a",  "127.0.0.1", "-p",
                                std::to_string(port_), "-js", "-sd",       dir_.path() + "/js"};
  if (!node_.server_name.empty()) {
    std::string routes;
    for (int p : node_.routes)
      routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(p);
    argv.insert(argv.end(), {"-n", node_.server_name, "--cluster_name", node_.cluster_name, "--cluster",
                             "nats://127.0.0.1:" + std::to_string(node_.route_port), "--routes", routes});
  }
  proc_ = std::make_unique<Process>(argv, std::map<std::string, std::string>{}, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline && proc_->running()) {
    if (count_in_file(log, listening) > before) return wait_for_port(port_, std::chrono::seconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  proc_.reset();
  return false;
}

void NatsServer::stop() {
  if (proc_) proc_->stop(SIGTERM);
  proc_.reset();
}

void NatsServer::kill9() {
  if (proc_) proc_->kill9();
  proc_.reset();
}

NatsCluster::NatsCluster(int nodes) {
  if (nodes <= 1) {
    nodes_.push_back(std::make_unique<NatsServer>());
    return;
  }
  static int clusters = 0;
  std::vector<int> routes;
  for (int i = 0; i < nodes; ++i) routes.push_back(free_port());
  const std::string name = "dm-test-" + std::to_string(::getpid()) + "-" + std::to_string(++clusters);
  for (int i = 0; i < nodes; ++i) {
    nodes_.push_back(std::make_unique<NatsServer>(
        NatsServer::ClusterNode{"n" + std::to_string(i + 1), name, routes[static_cast<std::size_t>(i)], routes}));
  }
}

std::string NatsCluster::urls() const {
  std::string out;
  for (const auto& n : nodes_) out += (out.empty() ? "" : ",") + n->url();
  return out;
}

PgCluster::PgCluster() : port_(free_port()) {
  char tmpl[] = "/tmp/dm-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  std::filesystem::permissions(dir_, std::filesystem::perms::all);
  if (::geteuid() == 0) run_command("chown postgres:postgres " + dir_);
  auto r = run_command(as_pg_user(std::string(kPgBin) + "/initdb -D " + dir_ +
                                  "/data -U postgres --auth=trust -E UTF8 --no-sync --locale=C.UTF-8"));
  if (r.exit_code != 0) throw std::runtime_error("initdb failed: " + r.output);
  start();
}

PgCluster::~PgCluster() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PgCluster::start() {
  // fsync off: test data need not survive a power cut, and it is much faster. WAL sizes as
  // deploy/local/up's, so benchmarks see the checkpoints and segment reuse a deployment does.
  auto r = run_command(as_pg_user(std::string(kPgBin) + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
                                  "/pg.log -w -t 60 -o \"-p " + std::to_string(port_) + " -k " + dir_ +
                                  " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
                                  " -c min_wal_size=2GB -c max_wal_size=2GB\" start"));
  if (r.exit_code != 0) throw std::runtime_error("pg_ctl start failed: " + r.output);
  running_ = true;
}

void PgCluster::stop() {
  if (!running_) return;
  run_command(as_pg_user(std::string(kPgBin) + "/pg_ctl -D " + dir_ + "/data -m fast -w stop"));
  running_ = false;
}

std::string PgCluster::url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PgCluster::create_database(const std::string& name) {
  auto r = psql("postgres", "CREATE DATABASE " + name);
  if (r.exit_code != 0) throw std::runtime_error("create database failed: " + r.output);
  return url(name);
}

void PgCluster::warm_wal(int megabytes) {
  std::string sql = "CREATE TABLE warm_wal (x int)";
  for (int mb = 0; mb < megabytes; mb += 16) sql += ";\nINSERT INTO warm_wal VALUES (1);\nSELECT pg_switch_wal()";
  sql += ";\nDROP TABLE warm_wal;\nCHECKPOINT";
  auto r = psql("postgres", sql);
  if (r.exit_code != 0) throw std::runtime_error("warming the WAL failed: " + r.output);
}

CommandResult PgCluster::psql(const std::string& database, const std::string& sql) const {
  std::string file = dir_ + "/q-" + std::to_string(::getpid()) + ".sql";
  {
    std::ofstream f(file);
    f << sql << ";\n";
  }
  std::filesystem::permissions(file, std::filesystem::perms::all);
  auto r = run_command("psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " + std::to_string(port_) +
                       " -U postgres -d " + database + " -f " + file);
  std::filesystem::remove(file);
  return r;
}

Mosquitto::Mosquitto(bool persistent) : dir_("dm-mqtt"), port_(free_port()), persistent_(persistent) { start(); }

Mosquitto::~Mosquitto() { stop(); }

void Mosquitto::start() {
  std::string conf = dir_.path() + "/mosquitto.conf";
  {
    std::ofstream f(conf);
    f << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\n";
    if (persistent_)
      f << "persistence true\npersistence_location " << dir_.path() << "/\n";
    else
      f << "persistence false\n";
    if (::geteuid() == 0) f << "user root\n";
  }
  proc_ = std::make_unique<Process>(std::vector<std::string>{"mosquitto", "-c", conf},
                                    std::map<std::string, std::string>{}, dir_.path() + "/mosquitto.log");
  if (!wait_for_port(port_, std::chrono::seconds(10))) throw std::runtime_error("mosquitto did not start");
}

void Mosquitto::stop() {
  if (proc_) proc_->stop(SIGTERM);
  proc_.reset();
}

MqttSubscriber::MqttSubscriber(int port, const std::string& filter, std::string path, int qos,
                               const std::vector<std::string>& extra)
    : path_(std::move(path)) {
  static std::atomic<int> made{0};
  probe_ = "dm-probe/" + std::to_string(::getpid()) + "-" + std::to_string(++made);
  std::vector<std::string> argv{"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port), "-t",
                                filter,          "-t", probe_,      "-q", std::to_string(qos),  "-v"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  proc_ = std::make_unique<Process>(std::move(argv), std::map<std::string, std::string>{}, path_);
  const std::string publish = "mosquitto_pub -h 127.0.0.1 -p " + std::to_string(port) + " -t " + probe_ + " -m probe";
  const bool subscribed = eventually(
      [&] {
        (void)run_command(publish);
        return eventually([&] { return count_in_file(path_, probe_ + " ") > 0; }, std::chrono::milliseconds(300));
      },
      std::chrono::seconds(10));
  if (!subscribed)
    throw std::runtime_error("mosquitto_sub on port " + std::to_string(port) + " did not subscribe within 10 s");
}

std::vector<std::string> MqttSubscriber::lines() const {
  std::vector<std::string> out;
  std::istringstream in(read_text(path_));
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && !line.starts_with(probe_ + " ")) out.push_back(line);
  return out;
}

}  // namespace dm::testing
