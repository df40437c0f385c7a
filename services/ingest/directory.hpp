#pragma once
// The in-memory view ingest keeps of the registry's devices (dev_eui → device), plus the
// connectivity state ingest is responsible for: last seen, battery, online/offline. Fed by
// the registry's compact list at start and its change events afterwards; the state changes
// made here are pushed back to the registry in batches (the registry owns the rows).
// Thread-safe; no I/O (the wiring in registry_link.cpp talks to NATS).
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dm/contract/taps.hpp"
#include "dm/core/result.hpp"
#include "dm/core/time.hpp"

namespace dm::ingest {

struct Device {
  std::string id;
  std::string dev_eui;
  std::string name;
  contract::DeviceState status = contract::DeviceState::never_seen;
  std::optional<std::int64_t> expected_transmit_time;  // minutes; none = never goes offline
  std::optional<SysTime> last_seen;
  std::int64_t version = 0;
};

// Parses one compact registry document ({id, dev_eui, name, status, expected_transmit_time,
// last_seen_at, version, ...}).
Result<Device> device_from_json(std::string_view doc);

// A connectivity change, published on dm.devstate.<dev_eui> (reason uplink or timeout).
using StateChange = contract::DeviceStateChange;

// What the registry must learn about one device (POST /internal/v1/devices/state).
struct PendingState {
  std::optional<SysTime> last_seen;
  std::optional<contract::DeviceState> status;
  std::optional<double> battery_level;
};
std::string state_batch_json(const std::map<std::string, PendingState>& batch);

class Directory {
 public:
  explicit Directory(std::chrono::milliseconds negative_ttl) : negative_ttl_(negative_ttl) {}

  // Replaces everything with the registry's full list (a JSON array of documents).
  Result<std::size_t> load(std::string_view json_array);
  // Adds or refreshes one device from the registry (created/updated, by-eui answers).
  void upsert(Device device);
  void remove_id(const std::string& id);

  struct Hit {
    std::string id;
    std::string name;
  };
  std::optional<Hit> find(const std::string& dev_eui) const;
  // Unknown dev_euis are remembered for a short while, so a flood from one unregistered
  // device costs one registry request per TTL rather than one per event.
  bool known_unknown(const std::string& dev_eui, std::chrono::steady_clock::time_point now) const;
  void remember_unknown(const std::string& dev_eui, std::chrono::steady_clock::time_point now);

  // An event from the device arrived: last seen moves forward, battery is noted, and a
  // never_seen/offline device turns online (returned as a change).
  std::optional<StateChange> seen(const std::string& dev_eui, SysTime at, std::optional<double> battery);
  // Devices online but silent for longer than expected_transmit_time × unit + grace turn offline.
  std::vector<StateChange> expire(SysTime now, std::chrono::milliseconds unit, std::chrono::milliseconds grace);

  // The state updates collected since the last call (to push to the registry)...
  std::map<std::string, PendingState> take_pending();
  // ...and handing them back when the push failed (newer values win).
  void restore_pending(const std::map<std::string, PendingState>& batch);

  std::size_t size() const;
  bool loaded() const;

 private:
  void merge_pending(const std::string& id, const PendingState& p);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Device> by_eui_;
  std::unordered_map<std::string, std::string> eui_of_id_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> unknown_until_;
  std::map<std::string, PendingState> pending_;
  std::chrono::milliseconds negative_ttl_;
  bool loaded_ = false;
};

}  // namespace dm::ingest
