// The fault suite's stack, scenario and checks (see suite.hpp).
#include "suite.hpp"

#include <dirent.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "dm/json/json.hpp"

namespace dm::fault {

using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kProbeNumbers = 50'000'000;
constexpr int kDevices = 20;

// A pass-through that keeps the uplink's number; {"boom": N} makes it throw an N-byte error.
const char* kFunction = R"(function process(m) {
  if (m.data && m.data.boom) throw new Error('x'.repeat(m.data.boom));
  return {n: m.f_cnt, dev_eui: m.dev_eui};
})";

}  // namespace

testing::Mosquitto& broker() {
  static testing::Mosquitto b(true);
  return b;
}

namespace {

std::vector<std::string> services_of(const Shape& shape) {
  std::vector<std::string> out{"registry", "gateway", "ingest"};
  for (const char* worker : {"function-runner", "integration-dispatcher", "flow-orchestrator"}) {
    out.emplace_back(worker);
    for (int i = 2; i <= shape.replicas; ++i) out.push_back(std::string(worker) + "#" + std::to_string(i));
  }
  return out;
}

}  // namespace

testing::Stack& stack() {
  static testing::Stack s(services_of(shape()),
                          {{"INGEST_SECRET", kSecret},
                           {"REGISTRY_OUTBOUND_ALLOW", "127.0.0.0/8"},
                           {"OUTBOUND_ALLOW", "127.0.0.1"},
                           // What a killed or stopped process held comes back after 5 s instead of a minute.
                           {"ORCHESTRATOR_ACK_WAIT", "5s"},
                           {"DISPATCHER_ACK_WAIT", "5s"},
                           {"ORCHESTRATOR_RETRY_DELAY", "250ms"},
                           {"ORCHESTRATOR_MAX_RETRY_DELAY", "2s"},
                           {"ORCHESTRATOR_MAX_DELIVERIES", "200"},  // no outage here may end in a dead letter
                           {"DISPATCHER_RETRY_BASE", "250ms"},
                           {"DISPATCHER_RETRY_CAP", "2s"},
                           {"RUNNER_WORKERS", "2"}},
                          shape().nats_nodes);
  return s;
}

Receiver& receiver() {
  static Receiver r;
  return r;
}

Api& api() {
  static Api a(stack());
  return a;
}

namespace {

std::string hex_eui(const std::string& tag, int i) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", static_cast<unsigned>(std::hash<std::string>{}(tag)) & 0x7fffffffu,
                static_cast<unsigned>(i));
  return buf;
}

std::string quoted(const std::string& s) {
  json::Writer w;
  w.string(s);
  return w.take();
}

}  // namespace

Scenario make_scenario(const std::string& tag, bool mqtt) {
  Api& a = api();
  Scenario s;
  s.tag = tag;
  s.mqtt = mqtt;
  s.label = a.create("/api/v1/labels", R"({"name":)" + quoted("fault-" + tag) + "}");
  for (int i = 0; i < kDevices; ++i) {
    s.euis.push_back(hex_eui(tag, i));
    s.devices.push_back(a.create("/api/v1/devices", R"({"dev_eui":")" + s.euis.back() + R"(","name":")" + tag + "-" +
                                                        std::to_string(i) + "\"}"));
    auto added = a.call("POST", "/api/v1/labels/" + s.label + "/devices/" + s.devices.back());
    if (added.status != 200) throw std::runtime_error("label: " + added.body);
  }
  s.function =
      a.create("/api/v1/functions", R"({"name":)" + quoted("fault-" + tag) + R"(,"code":)" + quoted(kFunction) + "}");
  std::string config = mqtt ? R"({"host":"127.0.0.1","port":)" + std::to_string(broker().port()) +
                                  R"(,"topic":"fault/)" + tag + R"(/{dev_eui}","qos":1})"
                            : R"({"url":")" + receiver().url(tag) + "\"}";
  s.integration = a.create("/api/v1/integrations", R"({"name":)" + quoted("fault-" + tag) + R"(,"type":")" +
                                                       (mqtt ? "mqtt" : "http") + R"(","config":)" + config + "}");
  s.flow =
      a.create("/api/v1/flows", R"({"name":)" + quoted("fault-" + tag) +
                                    R"(,"enabled":true,"nodes":[{"id":"t","type":"label","data":{"entityId":")" +
                                    s.label + R"("}},{"id":"f","type":"function","data":{"entityId":")" + s.function +
                                    R"("}},{"id":"i","type":"integration","data":{"entityId":")" + s.integration +
                                    R"("}}],"edges":[{"id":"e1","source":"t","target":"f"},)"
                                    R"({"id":"e2","source":"f","target":"i"}]})");
  // The orchestrator learns of the new flow and devices from the registry's change events.
  // Its numbers stay clear of the load's, which the receiver counts on the same path.
  Load probe(stack(), kSecret, s.euis, tag + "probe", 1);
  bool seen = wait_until(
      [&] {
        probe.post(kProbeNumbers + static_cast<std::int64_t>(probe.acked().size()) + probe.refused());
        return !api().all("/api/v1/flows/" + s.flow + "/history", "id").empty();
      },
      30s, 500ms);
  if (!seen) throw std::runtime_error("the flow of case " + tag + " never ran");
  return s;
}

namespace {

std::set<std::int64_t> numbers(const Load& load, const std::vector<std::string>& texts, char sep_after = 0) {
  std::set<std::int64_t> out;
  for (const auto& t : texts) {
    std::string_view v = t;
    // Run keys and job ids: "<flow>:up:<dedup id>[:<node>]".
    if (auto at = v.find(":up:"); at != std::string_view::npos) {
      v = v.substr(at + 4);
      if (sep_after && v.rfind(sep_after) != std::string_view::npos) v = v.substr(0, v.rfind(sep_after));
    }
    if (auto n = load.number_of(v); n >= 0) out.insert(n);
  }
  return out;
}

}  // namespace

void check_histories(const Scenario& s, const Load& load, Report& r, std::chrono::seconds timeout) {
  auto acked = load.acked();
  std::map<std::string, std::function<std::set<std::int64_t>()>> histories = {
      {"device history",
       [&] {
         std::vector<std::string> ids;
         for (const auto& d : s.devices) {
           auto part = api().all("/api/v1/devices/" + d + "/history?event_type=up", "dedup_id");
           ids.insert(ids.end(), part.begin(), part.end());
         }
         return numbers(load, ids);
       }},
      {"flow runs", [&] { return numbers(load, api().all("/api/v1/flows/" + s.flow + "/history", "dedup_id")); }},
      {"function runs",
       [&] { return numbers(load, api().all("/api/v1/functions/" + s.function + "/history", "flow_run_id")); }},
      {"deliveries",
       [&] {
         return numbers(
             load, api().all("/api/v1/integrations/" + s.integration + "/history?status=delivered", "job_id"), ':');
       }},
  };
  for (auto& [name, read] : histories) {
    std::size_t missing = acked.size();
    wait_until(
        [&] {
          try {
            missing = count_missing(acked, read());
          } catch (const std::exception&) {
            return false;  // the API may still be coming back
          }
          return missing == 0;
        },
        timeout, 1s);
    r.missing[name] = missing;
  }
}

std::size_t undelivered(const Scenario& s, const std::vector<std::int64_t>& numbers, const std::string& mqtt_file) {
  std::size_t missing = 0;
  if (s.mqtt) {
    auto seen = mqtt_seen(mqtt_file);
    for (auto n : numbers) missing += seen.count(n) ? 0 : 1;
  } else {
    auto seen = receiver().seen(s.tag);
    for (auto n : numbers) missing += seen.count(n) ? 0 : 1;
  }
  return missing;
}

void count_deliveries(const Scenario& s, const Load& load, Report& r, const std::string& mqtt_file) {
  auto acked = load.acked();
  r.acked = acked.size();
  r.lost = r.dup = r.delivered = 0;
  if (s.mqtt) {
    auto seen = mqtt_seen(mqtt_file);
    for (auto n : acked) {
      auto it = seen.find(n);
      if (it == seen.end())
        ++r.lost;
      else
        ++r.delivered;
    }
    return;
  }
  auto seen = receiver().seen(s.tag);
  for (auto n : acked) {
    auto it = seen.find(n);
    if (it == seen.end()) {
      ++r.lost;
      continue;
    }
    ++r.delivered;
    if (it->second.keys.size() > 1) ++r.dup;
  }
}

void print(const Report& r) {
  std::printf("FAULT %s\n", r.line().c_str());
  std::fflush(stdout);
  if (const char* path = std::getenv("DM_FAULT_REPORT")) {
    std::ofstream out(path, std::ios::app);
    out << r.line() << "\n";
  }
}

Report run_case(const std::string& name, const std::function<double()>& fault, bool mqtt) {
  Scenario s = make_scenario(name, mqtt);
  std::unique_ptr<testing::MqttSubscriber> subscriber;
  std::string mqtt_file;
  if (mqtt) {
    mqtt_file = "/tmp/dm-fault-" + name + "-" + std::to_string(::getpid()) + ".mqtt";
    subscriber = std::make_unique<testing::MqttSubscriber>(broker().port(), "fault/" + name + "/#", mqtt_file, 1,
                                                           std::vector<std::string>{"-c", "-i", "fault-" + name});
  }
  Load load(stack(), kSecret, s.euis, name, shape().rate);
  Report r;
  r.name = name;
  std::vector<std::string> readyz;
  for (const auto& service : stack().services()) readyz.push_back(stack().url(service) + "/readyz");
  ReadinessWatch readiness(readyz);
  auto load_start = Clock::now();
  load.start();
  std::this_thread::sleep_for(3s);
  r.outage_s = fault();
  auto fault_over = Clock::now();
  r.budget_s = std::max(r.outage_s, 15.0);
  // The backlog: what was acknowledged until the fault ended. Drained when all of it arrived,
  // measured while the load goes on; waiting three budgets tells a slow drain from a jam.
  auto backlog = load.acked();
  r.drained = wait_until([&] { return undelivered(s, backlog, mqtt_file) == 0; },
                         std::chrono::milliseconds(static_cast<long>(r.budget_s * 3000)), 100ms);
  r.drain_s = seconds_since(fault_over);
  // At least 5 s of load after the fault, then everything acknowledged must arrive.
  if (seconds_since(fault_over) < 5)
    std::this_thread::sleep_for(std::chrono::duration<double>(5 - seconds_since(fault_over)));
  load.stop();
  if (!mqtt) r.pause_s = receiver().longest_pause(s.tag, load_start + 1s, Clock::now());
  r.unready_s = readiness.longest_unready_s();
  r.refused = load.refused();
  wait_until(
      [&] {
        count_deliveries(s, load, r, mqtt_file);
        return r.lost == 0;
      },
      30s, 100ms);
  check_histories(s, load, r);
  count_deliveries(s, load, r, mqtt_file);
  if (r.refused) r.notes.push_back(std::to_string(r.refused) + " webhooks refused (not acknowledged)");
  for (const auto& [why, n] : load.refusals()) std::printf("  refused %zu× %s\n", n, why.c_str());
  if (mqtt) std::remove(mqtt_file.c_str());
  print(r);
  return r;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double kill_and_restart(const std::string& service) {
  auto t0 = Clock::now();
  stack().kill9(service);
  stack().start(service);
  if (!stack().wait_ready(service, 60s)) throw std::runtime_error(service + " did not come back");
  return seconds_since(t0);
}

double terminate_and_restart(const std::string& service) {
  auto t0 = Clock::now();
  stack().stop(service);
  stack().start(service);
  if (!stack().wait_ready(service, 60s)) throw std::runtime_error(service + " did not come back");
  return seconds_since(t0);
}

std::vector<int> runner_workers() {
  std::vector<int> out;
  int parent = stack().pid("function-runner");
  if (parent <= 0) return out;
  std::string dir = "/proc/" + std::to_string(parent) + "/task";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream children(dir + "/" + e->d_name + "/children");
      int pid;
      while (children >> pid) out.push_back(pid);
    }
    ::closedir(d);
  }
  return out;
}

void require_ok(const Report& r) {
  INFO(r.line());
  CHECK(r.lost == 0);
  CHECK(r.dup == 0);
  CHECK(r.drained);
  CHECK(r.drain_s <= r.budget_s);
  for (const auto& [history, n] : r.missing) {
    INFO(history);
    CHECK(n == 0);
  }
}

}  // namespace dm::fault
