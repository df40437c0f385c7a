#pragma once
// Everything ingest says to and hears from the registry over NATS: the initial device list
// (retried in the background until the registry answers), change events that keep the
// Directory fresh, by-eui lookups on a cache miss, auto-registration, batched state pushes,
// the periodic offline check, and dm.devstate.<dev_eui> announcements.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "directory.hpp"
#include "dm/bus/bus.hpp"

namespace dm::ingest {

struct LinkOptions {
  std::chrono::milliseconds request_timeout{2000};
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::milliseconds offline_check_interval{60000};
  std::chrono::milliseconds offline_grace{300000};
  std::chrono::milliseconds offline_unit{60000};  // length of one expected_transmit_time unit (minutes)
  std::chrono::milliseconds reload_interval{300000};
};

class RegistryLink {
 public:
  // `rpc` is the low-latency connection (requests), `nats` the bulk one (events, devstate).
  RegistryLink(bus::Connection& rpc, bus::Connection& nats, Directory& directory, LinkOptions options);
  ~RegistryLink();

  Result<void> start();
  void stop();  // pushes what is pending one last time

  // Cache miss: asks the registry by dev_eui. nullopt = not registered (remembered briefly).
  void lookup(const std::string& dev_eui, std::function<void(Result<std::optional<Device>>)> done);
  // Creates the device through the registry's public route (the unknown-device policy "register").
  void register_device(const std::string& dev_eui, const std::string& name, std::function<void(Result<Device>)> done);
  // Announces a connectivity change on dm.devstate.<dev_eui>.
  void announce(const StateChange& change);

 private:
  void run();
  Result<void> reload();
  void push_pending();
  void on_change(const bus::Message& message);

  bus::Connection& rpc_;
  bus::Connection& nats_;
  Directory& directory_;
  LinkOptions options_;
  std::unique_ptr<bus::Subscription> changes_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

// "GET" + "/internal/v1/devices" → a request on dm.rpc.registry; the reply's Dm-Status.
int rpc_status(const bus::Message& reply);

}  // namespace dm::ingest
