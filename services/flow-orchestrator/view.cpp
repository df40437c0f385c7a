#include "view.hpp"

#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/json/json.hpp"
#include "json_text.hpp"

namespace dm::flow_orchestrator {
namespace {

constexpr json::Limits kLimits{.max_bytes = 256u << 20, .max_depth = 128};

// One flow object of the registry's internal view; nullptr when it cannot run (no id or nodes).
std::shared_ptr<const Flow> read_flow(const json::Value& f) {
  if (!f.IsObject()) return nullptr;
  auto flow = std::make_shared<Flow>();
  flow->id = string_of(f, "id");
  flow->name = string_of(f, "name");
  if (const auto* v = json::find(f, "version"); v && v->IsInt64()) flow->version = v->GetInt64();
  const auto* nodes = json::find(f, "nodes");
  const auto* edges = json::find(f, "edges");
  if (flow->id.empty() || !nodes || !nodes->IsArray()) return nullptr;
  std::unordered_map<std::string, std::size_t> index;
  for (const auto& n : nodes->GetArray()) {
    if (!n.IsObject()) continue;
    Node node;
    node.id = string_of(n, "id");
    node.type = string_of(n, "type");
    node.entity_id = string_of(n, "entity_id");
    const auto* p = json::find(n, "parameters");
    node.parameters = p && p->IsObject() ? json::to_string(*p) : "{}";
    index[node.id] = flow->nodes.size();
    flow->nodes.push_back(std::move(node));
  }
  if (edges && edges->IsArray()) {
    for (const auto& e : edges->GetArray()) {
      if (!e.IsObject()) continue;
      auto s = index.find(string_of(e, "source"));
      auto t = index.find(string_of(e, "target"));
      if (s == index.end() || t == index.end()) continue;  // the registry checked the graph
      flow->nodes[s->second].next.push_back(t->second);
    }
  }
  return flow;
}

}  // namespace

Result<std::vector<std::shared_ptr<const Flow>>> parse_flows(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, json::parse(text, kLimits));
  if (!doc.IsArray()) return Error(Errc::invalid_argument, "flows: expected an array");
  std::vector<std::shared_ptr<const Flow>> out;
  for (const auto& f : doc.GetArray()) {
    const auto* enabled = f.IsObject() ? json::find(f, "enabled") : nullptr;
    if (enabled && enabled->IsBool() && !enabled->GetBool()) continue;
    if (auto flow = read_flow(f)) out.push_back(std::move(flow));
  }
  return out;
}

Result<std::shared_ptr<const Flow>> parse_flow(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, json::parse(text, kLimits));
  auto flow = read_flow(doc);
  if (!flow) return Error(Errc::invalid_argument, "flow: expected an object with id and nodes");
  return flow;
}

Result<std::vector<Device>> parse_devices(std::string_view text) {
  DM_ASSIGN_OR_RETURN(auto doc, json::parse(text, kLimits));
  if (!doc.IsArray()) return Error(Errc::invalid_argument, "devices: expected an array");
  std::vector<Device> out;
  out.reserve(doc.Size());
  for (const auto& d : doc.GetArray()) {
    if (!d.IsObject()) continue;
    Device dev;
    dev.id = string_of(d, "id");
    dev.dev_eui = string_of(d, "dev_eui");
    dev.name = string_of(d, "name");
    if (const auto* labels = json::find(d, "labels"); labels && labels->IsArray()) {
      dev.labels_json = json::to_string(*labels);
      for (const auto& l : labels->GetArray())
        if (l.IsObject()) dev.label_ids.push_back(string_of(l, "id"));
    }
    if (!dev.dev_eui.empty()) out.push_back(std::move(dev));
  }
  return out;
}

View::View(bus::Connection& rpc, bus::Connection& events, std::chrono::milliseconds reload_interval)
    : rpc_(rpc), events_(events), reload_interval_(reload_interval) {}

View::~View() { stop(); }

Result<void> View::start() {
  DM_ASSIGN_OR_RETURN(sub_, events_.subscribe(contract::subject::kRegistryChanges, "", [this](bus::Message&& m) {
    std::lock_guard lock(mutex_);
    // Label changes alter device→label membership; flows name devices and labels by id only.
    if (m.subject == contract::subject::registry_changed("flow"))
      flows_dirty_ = true;
    else if (m.subject == contract::subject::registry_changed("device") ||
             m.subject == contract::subject::registry_changed("label"))
      devices_dirty_ = true;
    else
      return;
    wake_.notify_all();
  }));
  thread_ = std::thread([this] {
    name_this_thread("view");
    loop();
  });
  return ok();
}

void View::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  sub_.reset();
  if (thread_.joinable()) thread_.join();
}

// Reloads what is dirty; events arriving during a reload mark it dirty again, so a change
// committed after our read is never missed. Failures retry after a short pause.
void View::loop() {
  auto last_full = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (std::chrono::steady_clock::now() - last_full >= reload_interval_) {
      flows_dirty_ = devices_dirty_ = true;
      last_full = std::chrono::steady_clock::now();
    }
    bool flows = std::exchange(flows_dirty_, false);
    bool devices = std::exchange(devices_dirty_, false);
    lock.unlock();
    bool failed = false;
    if (devices) {
      if (auto r = reload_devices(); !r) {
        log::warn("device reload failed", {{"error", r.error().message}});
        failed = true;
      }
    }
    if (flows) {
      if (auto r = reload_flows(); !r) {
        log::warn("flow reload failed", {{"error", r.error().message}});
        failed = true;
      }
    }
    lock.lock();
    if (failed) {
      if (devices) devices_dirty_ = true;
      if (flows) flows_dirty_ = true;
      wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; });
      continue;
    }
    wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || flows_dirty_ || devices_dirty_; });
  }
}

Result<std::string> View::fetch(const std::string& target) {
  DM_ASSIGN_OR_RETURN(auto reply,
                      rpc_.request(contract::subject::rpc(contract::kRegistry, contract::kOrchestrator), "",
                                   std::chrono::seconds(10), {{"Dm-Method", "GET"}, {"Dm-Target", target}}));
  auto status = reply.header("Dm-Status");
  if (status && *status != "200") return Error(Errc::unavailable, "registry answered " + *status + " to " + target);
  return std::move(reply.data);
}

Result<void> View::reload_flows() {
  DM_ASSIGN_OR_RETURN(auto body, fetch("/internal/v1/flows?enabled=true"));
  DM_ASSIGN_OR_RETURN(auto flows, parse_flows(body));
  auto index = std::make_shared<std::unordered_map<std::string, std::vector<Trigger>>>();
  for (const auto& f : flows) {
    for (std::size_t i = 0; i < f->nodes.size(); ++i) {
      const auto& n = f->nodes[i];
      if (n.type == "device" || n.type == "label") (*index)[n.type + ":" + n.entity_id].push_back({f, i});
    }
  }
  std::lock_guard lock(mutex_);
  triggers_ = std::move(index);
  flow_count_ = flows.size();
  flows_loaded_ = true;
  return ok();
}

Result<void> View::reload_devices() {
  DM_ASSIGN_OR_RETURN(auto body, fetch("/internal/v1/devices"));
  DM_ASSIGN_OR_RETURN(auto list, parse_devices(body));
  auto map = std::make_shared<std::unordered_map<std::string, std::shared_ptr<const Device>>>();
  auto by_id = std::make_shared<std::unordered_map<std::string, std::shared_ptr<const Device>>>();
  for (auto& d : list) {
    auto eui = d.dev_eui;
    auto device = std::make_shared<const Device>(std::move(d));
    if (!device->id.empty()) (*by_id)[device->id] = device;
    (*map)[eui] = std::move(device);
  }
  std::lock_guard lock(mutex_);
  devices_ = std::move(map);
  devices_by_id_ = std::move(by_id);
  devices_loaded_ = true;
  ++device_reloads_;
  return ok();
}

std::shared_ptr<const Device> View::find(const std::shared_ptr<const DeviceMap>& map, const std::string& key) {
  if (!map) return nullptr;
  auto it = map->find(key);
  return it == map->end() ? nullptr : it->second;
}

std::shared_ptr<const Device> View::device(const std::string& dev_eui) const {
  return find(snapshot(devices_), dev_eui);
}

std::shared_ptr<const Device> View::device_by_id(const std::string& id) const {
  return find(snapshot(devices_by_id_), id);
}

std::vector<Trigger> View::triggers(const std::string& device_id, const std::vector<std::string>& label_ids) const {
  auto index = snapshot(triggers_);
  std::vector<Trigger> out;
  if (!index) return out;
  auto add = [&](const std::string& key) {
    auto it = index->find(key);
    if (it != index->end()) out.insert(out.end(), it->second.begin(), it->second.end());
  };
  if (!device_id.empty()) add("device:" + device_id);
  for (const auto& l : label_ids) add("label:" + l);
  return out;
}

std::size_t View::flow_count() const {
  std::lock_guard lock(mutex_);
  return flow_count_;
}

std::size_t View::device_count() const {
  std::lock_guard lock(mutex_);
  return devices_ ? devices_->size() : 0;
}

}  // namespace dm::flow_orchestrator
