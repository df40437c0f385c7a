#include "directory.hpp"

#include "dm/core/strings.hpp"
#include "dm/json/json.hpp"

namespace dm::ingest {
namespace {

using contract::DeviceState;

std::optional<SysTime> later(const std::optional<SysTime>& a, const std::optional<SysTime>& b) {
  if (!a) return b;
  if (!b) return a;
  return *a > *b ? a : b;
}

// The state ingest decides (online, offline) survives a registry document that does not know
// it yet; the registry decides maintenance, and a device it has never seen has nothing to keep.
DeviceState kept_status(DeviceState registry, DeviceState local) {
  bool keep =
      registry != DeviceState::maintenance && local != DeviceState::never_seen && local != DeviceState::maintenance;
  return keep ? local : registry;
}

// A transition as the tap announces it.
StateChange change_of(const Device& d, DeviceState state, contract::StateReason reason, SysTime at) {
  return StateChange{
      .dev_eui = d.dev_eui,
      .device_id = d.id,
      .device_name = d.name,
      .state = state,
      .previous_state = d.status,
      .reason = reason,
      .last_seen_at = d.last_seen ? std::optional<std::string>(format_rfc3339(*d.last_seen)) : std::nullopt,
      .at = format_rfc3339(at)};
}

}  // namespace

Result<Device> device_from_json(std::string_view doc) {
  auto parsed = json::parse(doc, {.max_bytes = 1 << 20, .max_depth = 16});
  if (!parsed) return parsed.take_error();
  const auto& v = *parsed;
  if (!v.IsObject()) return Error(Errc::invalid_argument, "device document is not an object");
  Device d;
  DM_ASSIGN_OR_RETURN(auto id, json::get_string(v, "id"));
  DM_ASSIGN_OR_RETURN(auto eui, json::get_string(v, "dev_eui"));
  DM_ASSIGN_OR_RETURN(auto name, json::opt_string(v, "name"));
  DM_ASSIGN_OR_RETURN(auto status, json::opt_string(v, "status"));
  DM_ASSIGN_OR_RETURN(auto ett, json::opt_int(v, "expected_transmit_time"));
  DM_ASSIGN_OR_RETURN(auto seen, json::opt_string(v, "last_seen_at"));
  DM_ASSIGN_OR_RETURN(auto version, json::opt_int(v, "version"));
  d.id = std::string(id);
  d.dev_eui = std::string(eui);
  d.dev_eui = lower(d.dev_eui);
  d.name = std::string(name.value_or(""));
  if (status) {
    auto known = contract::parse<DeviceState>(*status);
    if (!known) return Error(Errc::invalid_argument, "device status '" + std::string(*status) + "' is unknown");
    d.status = *known;
  }
  d.expected_transmit_time = ett;
  if (seen) {
    if (auto t = parse_rfc3339(*seen)) d.last_seen = *t;
  }
  d.version = version.value_or(0);
  return d;
}

std::string state_batch_json(const std::map<std::string, PendingState>& batch) {
  json::Writer w;
  w.start_object().key("devices").start_array();
  for (const auto& [id, p] : batch) {
    w.start_object().field("id", id);
    // The registry needs a time; a status-only change (offline) keeps last_seen unchanged
    // because last_seen only moves forward there.
    w.key("last_seen_at");
    if (p.last_seen)
      w.string(format_rfc3339(*p.last_seen));
    else
      w.null();
    if (p.status) w.field("status", contract::to_string(*p.status));
    if (p.battery_level) w.field("battery_level", *p.battery_level);
    w.end_object();
  }
  w.end_array().end_object();
  return w.take();
}

Result<std::size_t> Directory::load(std::string_view json_array) {
  auto parsed = json::parse(json_array, {.max_bytes = std::size_t{1} << 30, .max_depth = 16});
  if (!parsed) return parsed.take_error();
  if (!parsed->IsArray()) return Error(Errc::invalid_argument, "device list is not an array");
  std::vector<Device> devices;
  for (const auto& v : parsed->GetArray()) {
    auto d = device_from_json(json::to_string(v));
    if (!d) return d.take_error();
    devices.push_back(std::move(d).value());
  }
  std::lock_guard lock(mu_);
  std::unordered_map<std::string, Device> old;
  old.swap(by_eui_);
  eui_of_id_.clear();
  for (auto& d : devices) {
    // A reload keeps state learned locally that the registry may not have yet.
    if (auto it = old.find(d.dev_eui); it != old.end() && it->second.id == d.id) {
      d.last_seen = later(d.last_seen, it->second.last_seen);
      d.status = kept_status(d.status, it->second.status);
    }
    eui_of_id_[d.id] = d.dev_eui;
    by_eui_[d.dev_eui] = std::move(d);
  }
  loaded_ = true;
  return by_eui_.size();
}

void Directory::upsert(Device d) {
  std::lock_guard lock(mu_);
  unknown_until_.erase(d.dev_eui);
  if (auto old_eui = eui_of_id_.find(d.id); old_eui != eui_of_id_.end()) {
    auto it = by_eui_.find(old_eui->second);
    if (it != by_eui_.end()) {
      const Device& old = it->second;
      if (old.version > d.version) return;  // an older answer overtaken by a newer one
      d.last_seen = later(d.last_seen, old.last_seen);
      d.status = kept_status(d.status, old.status);
      if (old_eui->second != d.dev_eui) by_eui_.erase(it);
    }
  }
  eui_of_id_[d.id] = d.dev_eui;
  by_eui_[d.dev_eui] = std::move(d);
}

void Directory::remove_id(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = eui_of_id_.find(id);
  if (it == eui_of_id_.end()) return;
  by_eui_.erase(it->second);
  eui_of_id_.erase(it);
  pending_.erase(id);
}

std::optional<Directory::Hit> Directory::find(const std::string& dev_eui) const {
  std::lock_guard lock(mu_);
  auto it = by_eui_.find(dev_eui);
  if (it == by_eui_.end()) return std::nullopt;
  return Hit{it->second.id, it->second.name};
}

bool Directory::known_unknown(const std::string& dev_eui, std::chrono::steady_clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = unknown_until_.find(dev_eui);
  return it != unknown_until_.end() && it->second > now;
}

void Directory::remember_unknown(const std::string& dev_eui, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  if (unknown_until_.size() > 100000) {  // bounded: drop expired entries, then everything if still full
    for (auto it = unknown_until_.begin(); it != unknown_until_.end();) {
      it = it->second <= now ? unknown_until_.erase(it) : std::next(it);
    }
    if (unknown_until_.size() > 100000) unknown_until_.clear();
  }
  unknown_until_[dev_eui] = now + negative_ttl_;
}

std::optional<StateChange> Directory::seen(const std::string& dev_eui, SysTime at, std::optional<double> battery) {
  std::lock_guard lock(mu_);
  auto it = by_eui_.find(dev_eui);
  if (it == by_eui_.end()) return std::nullopt;
  Device& d = it->second;
  d.last_seen = later(d.last_seen, at);
  PendingState p;
  p.last_seen = at;
  p.battery_level = battery;
  std::optional<StateChange> change;
  if (d.status == DeviceState::never_seen || d.status == DeviceState::offline) {
    change = change_of(d, DeviceState::online, contract::StateReason::uplink, at);
    d.status = DeviceState::online;
    p.status = DeviceState::online;
  }
  merge_pending(d.id, p);
  return change;
}

std::vector<StateChange> Directory::expire(SysTime now, std::chrono::milliseconds unit,
                                           std::chrono::milliseconds grace) {
  std::vector<StateChange> out;
  std::lock_guard lock(mu_);
  for (auto& [eui, d] : by_eui_) {
    if (d.status != DeviceState::online || !d.expected_transmit_time || !d.last_seen) continue;
    auto limit = unit * *d.expected_transmit_time + grace;
    if (now - *d.last_seen <= limit) continue;
    out.push_back(change_of(d, DeviceState::offline, contract::StateReason::timeout, now));
    d.status = DeviceState::offline;
    PendingState p;
    p.status = DeviceState::offline;
    p.last_seen = d.last_seen;
    merge_pending(d.id, p);
  }
  return out;
}

void Directory::merge_pending(const std::string& id, const PendingState& p) {
  PendingState& q = pending_[id];
  q.last_seen = later(q.last_seen, p.last_seen);
  if (p.status) q.status = p.status;
  if (p.battery_level) q.battery_level = p.battery_level;
}

std::map<std::string, PendingState> Directory::take_pending() {
  std::lock_guard lock(mu_);
  std::map<std::string, PendingState> out;
  out.swap(pending_);
  return out;
}

void Directory::restore_pending(const std::map<std::string, PendingState>& batch) {
  std::lock_guard lock(mu_);
  for (const auto& [id, p] : batch) {
    if (!eui_of_id_.contains(id)) continue;  // deleted meanwhile
    auto it = pending_.find(id);
    if (it == pending_.end()) {
      pending_.emplace(id, p);
      continue;
    }
    // What arrived since the failed push is newer: keep it, fill in the rest.
    PendingState& q = it->second;
    q.last_seen = later(q.last_seen, p.last_seen);
    if (!q.status) q.status = p.status;
    if (!q.battery_level) q.battery_level = p.battery_level;
  }
}

std::size_t Directory::size() const {
  std::lock_guard lock(mu_);
  return by_eui_.size();
}

bool Directory::loaded() const {
  std::lock_guard lock(mu_);
  return loaded_;
}

}  // namespace dm::ingest
