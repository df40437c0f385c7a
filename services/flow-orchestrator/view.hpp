#pragma once
// The orchestrator's view of the registry: enabled flows (indexed by trigger) and devices
// with their labels. Loaded over NATS from the registry's internal routes and reloaded
// when `dm.registry.changed.<kind>` says so (plus a periodic safety reload), so no registry
// request is made per uplink. Readers get an immutable snapshot; reloads swap it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/core/result.hpp"

namespace dm::flow_orchestrator {

struct Node {
  std::string id;
  std::string type;  // device | label | function | integration | storage
  std::string entity_id;
  std::string parameters;         // JSON object text ("{}" when absent)
  std::vector<std::size_t> next;  // indexes of the nodes this one's edges lead to
};

struct Flow {
  std::string id;
  std::string name;
  std::int64_t version = 0;
  std::vector<Node> nodes;
};

struct Device {
  std::string id;
  std::string dev_eui;
  std::string name;
  std::vector<std::string> label_ids;
  std::string labels_json = "[]";  // [{id, name}] as the registry sent it
};

struct Trigger {
  std::shared_ptr<const Flow> flow;
  std::size_t node = 0;  // index of the trigger node in flow->nodes
};

// Pure parsing, tested without servers.
Result<std::vector<std::shared_ptr<const Flow>>> parse_flows(std::string_view json);
Result<std::vector<Device>> parse_devices(std::string_view json);
// One flow object (as GET /internal/v1/flows/{id} answers), enabled or not.
Result<std::shared_ptr<const Flow>> parse_flow(std::string_view json);

class View {
 public:
  View(bus::Connection& rpc, bus::Connection& events, std::chrono::milliseconds reload_interval);
  ~View();
  Result<void> start();
  void stop();

  bool loaded() const { return flows_loaded_ && devices_loaded_; }
  // The device known under `dev_eui`, else nullptr.
  std::shared_ptr<const Device> device(const std::string& dev_eui) const;
  // The device with registry id `id`, else nullptr.
  std::shared_ptr<const Device> device_by_id(const std::string& id) const;
  // Enabled flows' trigger nodes for the device itself or any of its labels; one entry per
  // (flow, trigger node).
  std::vector<Trigger> triggers(const std::string& device_id, const std::vector<std::string>& label_ids) const;
  std::size_t flow_count() const;
  std::size_t device_count() const;
  // Successful device-list loads so far (tests wait for a reload after a change).
  std::uint64_t device_reloads() const { return device_reloads_; }

 private:
  void loop();
  Result<std::string> fetch(const std::string& target);
  Result<void> reload_flows();
  Result<void> reload_devices();
  using DeviceMap = std::unordered_map<std::string, std::shared_ptr<const Device>>;
  // Reloads swap the maps whole: a reader copies the pointer under the lock, then reads freely.
  template <typename T>
  std::shared_ptr<const T> snapshot(const std::shared_ptr<const T>& current) const {
    std::lock_guard lock(mutex_);
    return current;
  }
  static std::shared_ptr<const Device> find(const std::shared_ptr<const DeviceMap>& map, const std::string& key);

  bus::Connection& rpc_;
  bus::Connection& events_;
  std::chrono::milliseconds reload_interval_;
  std::unique_ptr<bus::Subscription> sub_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool flows_dirty_ = true;
  bool devices_dirty_ = true;
  std::atomic<bool> flows_loaded_{false};
  std::atomic<bool> devices_loaded_{false};
  std::atomic<std::uint64_t> device_reloads_{0};
  // Swapped whole under mutex_; readers copy the pointer.
  std::shared_ptr<const std::unordered_map<std::string, std::vector<Trigger>>> triggers_;  // "device:<id>"/"label:<id>"
  std::shared_ptr<const DeviceMap> devices_;                                               // by dev_eui
  std::shared_ptr<const DeviceMap> devices_by_id_;
  std::size_t flow_count_ = 0;
};

}  // namespace dm::flow_orchestrator
