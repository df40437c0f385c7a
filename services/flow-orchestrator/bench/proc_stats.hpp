#pragma once
// CPU time and resident memory of the stack's processes during a benchmark, from /proc: each
// service binary (a child of the benchmark, with its own children such as the runner's V8
// workers), nats-server, and the PostgreSQL cluster (its postmaster, found by its port, and
// every backend under it). CPU is user + system time over the window, as % of one core; RSS is
// the largest sum seen by a sampler thread (PostgreSQL's shared buffers are counted once per
// backend that touched them, so its figure is an upper bound); PSS is the proportional set
// size at the end of the window (/proc/<pid>/smaps_rollup: shared pages split between the
// processes that map them, so the groups add up to what the stack holds).
#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace dm::bench {

struct ProcInfo {
  int pid = 0;
  int ppid = 0;
  std::string name;  // comm
  std::vector<std::string> argv;
  double cpu_seconds = 0;  // utime + stime (+ reaped children's)
  double rss_mb = 0;
};

inline std::vector<ProcInfo> scan_procs() {
  std::vector<ProcInfo> out;
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (auto* e = readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    ProcInfo p;
    p.pid = pid;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    p.name = line.substr(open + 1, close - open - 1);
    std::istringstream rest(line.substr(close + 2));
    std::vector<std::string> f;
    for (std::string s; rest >> s;) f.push_back(s);
    if (f.size() < 15) continue;
    // After "(comm) ": state ppid ... utime(11) stime(12) cutime(13) cstime(14), 0-based.
    p.ppid = std::atoi(f[1].c_str());
    p.cpu_seconds =
        (std::atof(f[11].c_str()) + std::atof(f[12].c_str()) + std::atof(f[13].c_str()) + std::atof(f[14].c_str())) /
        ticks;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string l; std::getline(status, l);)
      if (l.rfind("VmRSS:", 0) == 0) p.rss_mb = std::atof(l.c_str() + 6) / 1024.0;
    std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
    for (std::string a; std::getline(cmd, a, '\0');) p.argv.push_back(a);
    out.push_back(std::move(p));
  }
  closedir(d);
  return out;
}

// Groups: "<service>" for each dm-* child of this process, "nats-server", "postgres" (the cluster
// listening on `pg_port`), "bench" (this process: load generator and receiver).
class ProcStats {
 public:
  explicit ProcStats(int pg_port) : pg_port_(pg_port) {}
  ~ProcStats() { stop(); }

  void start() {
    t0_ = std::chrono::steady_clock::now();
    cpu0_ = sum_by_group(scan_procs(), cpu_seconds);
    running_ = true;
    sampler_ = std::thread([this] {
      while (running_) {
        sample_rss();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    });
  }

  void stop() {
    if (!running_.exchange(false)) return;
    sampler_.join();
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    auto procs = scan_procs();
    cpu1_ = sum_by_group(procs, cpu_seconds);
    pss_ = sum_by_group(procs, [](const ProcInfo& p) { return pss_mb(p.pid); });
  }

  // "group: CPU x% of a core, RSS max y MB, PSS at the end z MB" lines.
  std::string report() const {
    std::string out;
    char buf[200];
    double total = 0, total_pss = 0;
    for (const auto& [group, cpu] : cpu1_) {
      auto before = cpu0_.find(group);
      double used = cpu - (before == cpu0_.end() ? 0 : before->second);
      double pct = seconds_ > 0 ? 100.0 * used / seconds_ : 0;
      total += pct;
      auto rss = rss_max_.find(group);
      auto pss = pss_.find(group);
      const double pss_mb = pss == pss_.end() ? 0.0 : pss->second;
      total_pss += pss_mb;
      std::snprintf(buf, sizeof buf, "  %-24s CPU %6.1f%% of a core   RSS max %7.1f MB   PSS at the end %7.1f MB\n",
                    group.c_str(), pct, rss == rss_max_.end() ? 0.0 : rss->second, pss_mb);
      out += buf;
    }
    std::snprintf(buf, sizeof buf,
                  "  %-24s CPU %6.1f%% of a core (machine: 2 cores = 200%%)   PSS at the end %7.1f MB\n", "all", total,
                  total_pss);
    return out + buf;
  }

 private:
  // Which group a process belongs to ("" = none), following parents up to a known root.
  std::map<int, std::string> groups(const std::vector<ProcInfo>& procs) const {
    std::map<int, const ProcInfo*> by_pid;
    for (const auto& p : procs) by_pid[p.pid] = &p;
    const int self = static_cast<int>(getpid());
    auto root_group = [&](const ProcInfo& p) -> std::string {
      if (p.pid == self) return "bench";
      // comm is cut at 15 characters: name services by their binary's file name.
      std::string exe = p.argv.empty() ? p.name : p.argv[0].substr(p.argv[0].rfind('/') + 1);
      if (p.ppid == self && exe.rfind("dm-", 0) == 0) return exe.substr(3);
      if (p.ppid == self && p.name == "nats-server") return "nats-server";
      if (p.name == "postgres")
        for (std::size_t i = 0; i + 1 < p.argv.size(); ++i)
          if (p.argv[i] == "-p" && p.argv[i + 1] == std::to_string(pg_port_)) return "postgres";
      return "";
    };
    std::map<int, std::string> out;
    for (const auto& p : procs) {
      const ProcInfo* cur = &p;
      for (int hops = 0; cur && hops < 8; ++hops) {
        auto g = root_group(*cur);
        if (!g.empty()) {
          out[p.pid] = g;
          break;
        }
        auto parent = by_pid.find(cur->ppid);
        cur = parent == by_pid.end() ? nullptr : parent->second;
      }
    }
    return out;
  }

  // `value` of each process, summed by group.
  template <class Value>
  std::map<std::string, double> sum_by_group(const std::vector<ProcInfo>& procs, Value value) const {
    auto g = groups(procs);
    std::map<std::string, double> out;
    for (const auto& p : procs)
      if (auto it = g.find(p.pid); it != g.end()) out[it->second] += value(p);
    return out;
  }

  static double cpu_seconds(const ProcInfo& p) { return p.cpu_seconds; }

  static double pss_mb(int pid) {
    std::ifstream rollup("/proc/" + std::to_string(pid) + "/smaps_rollup");
    for (std::string l; std::getline(rollup, l);)
      if (l.rfind("Pss:", 0) == 0) return std::atof(l.c_str() + 4) / 1024.0;
    return 0;
  }

  void sample_rss() {
    auto now = sum_by_group(scan_procs(), [](const ProcInfo& p) { return p.rss_mb; });
    std::lock_guard lock(mu_);
    for (const auto& [group, mb] : now) rss_max_[group] = std::max(rss_max_[group], mb);
  }

  int pg_port_;
  std::atomic<bool> running_{false};
  std::thread sampler_;
  std::chrono::steady_clock::time_point t0_;
  double seconds_ = 0;
  std::map<std::string, double> cpu0_, cpu1_, pss_;
  mutable std::mutex mu_;
  std::map<std::string, double> rss_max_;
};

}  // namespace dm::bench
