#include "registry_link.hpp"

#include "dm/contract/subjects.hpp"
#include "dm/core/log.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/json/json.hpp"
#include "dm/service/rpc.hpp"

namespace dm::ingest {
namespace {

bus::Headers rpc_headers(std::string_view method, std::string_view target) {
  return {{"Dm-Method", std::string(method)}, {"Dm-Target", std::string(target)}, {"Content-Type", "application/json"}};
}

}  // namespace

int rpc_status(const bus::Message& reply) {
  auto s = reply.header("Dm-Status");
  if (!s) return 0;
  try {
    return std::stoi(*s);
  } catch (...) {
    return 0;
  }
}

RegistryLink::RegistryLink(bus::Connection& rpc, bus::Connection& nats, Directory& directory, LinkOptions options)
    : rpc_(rpc), nats_(nats), directory_(directory), options_(options) {}

RegistryLink::~RegistryLink() { stop(); }

Result<void> RegistryLink::start() {
  DM_ASSIGN_OR_RETURN(
      changes_,
      nats_.subscribe(contract::subject::registry_changed(contract::to_string(contract::RegistryKind::device)), "",
                      [this](bus::Message&& m) { on_change(m); }));
  thread_ = std::thread([this] {
    name_this_thread("registry-link");
    run();
  });
  return ok();
}

void RegistryLink::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  changes_.reset();
  push_pending();
}

void RegistryLink::run() {
  using Clock = std::chrono::steady_clock;
  // The registry may start after us: retry the first load every second until it answers.
  auto next_reload = Clock::now();
  auto next_flush = Clock::now() + options_.flush_interval;
  auto next_check = Clock::now() + options_.offline_check_interval;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto wake_at = std::min({next_reload, next_flush, next_check});
    wake_.wait_until(lock, wake_at, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    auto now = Clock::now();
    if (now >= next_reload) {
      auto r = reload();
      if (!r) log::warn("device list not loaded yet", {{"error", r.error().message}});
      next_reload = now + (r ? options_.reload_interval : std::chrono::milliseconds(1000));
    }
    if (now >= next_check) {
      for (const auto& change : directory_.expire(dm::now(), options_.offline_unit, options_.offline_grace))
        announce(change);
      next_check = now + options_.offline_check_interval;
    }
    if (now >= next_flush) {
      push_pending();
      next_flush = Clock::now() + options_.flush_interval;
    }
    lock.lock();
  }
}

Result<void> RegistryLink::reload() {
  DM_ASSIGN_OR_RETURN(auto reply, rpc_.request(contract::subject::rpc(contract::kRegistry, contract::kIngest), "",
                                               std::chrono::seconds(10), rpc_headers("GET", "/internal/v1/devices")));
  if (rpc_status(reply) != 200)
    return Error(Errc::unavailable, "registry answered " + std::to_string(rpc_status(reply)));
  DM_ASSIGN_OR_RETURN(auto n, directory_.load(reply.data));
  log::info("device list loaded", {{"devices", n}});
  return ok();
}

void RegistryLink::push_pending() {
  auto batch = directory_.take_pending();
  if (batch.empty()) return;
  auto reply = rpc_.request(contract::subject::rpc(contract::kRegistry, contract::kIngest), state_batch_json(batch),
                            std::chrono::seconds(5), rpc_headers("POST", "/internal/v1/devices/state"));
  if (reply && rpc_status(*reply) == 200) return;
  std::string why = reply ? "status " + std::to_string(rpc_status(*reply)) + ": " + reply->data : reply.error().message;
  log::warn("device state push failed, will retry", {{"devices", batch.size()}, {"error", why}});
  // A 422 means a bad batch that retrying cannot fix; anything else is the registry being away.
  if (!reply || rpc_status(*reply) != 422) directory_.restore_pending(batch);
}

void RegistryLink::on_change(const bus::Message& message) {
  auto change = contract::decode_registry_change(message.data);
  if (!change) return;
  std::string device_id = std::move(change->id);
  if (change->action == contract::ChangeAction::deleted) {
    directory_.remove_id(device_id);
    return;
  }
  rpc_.request_async(
      contract::subject::rpc(contract::kRegistry, contract::kIngest), "", options_.request_timeout,
      [this, device_id](Result<bus::Message> reply) {
        if (!reply) {
          log::warn("device refresh failed", {{"id", device_id}, {"error", reply.error().message}});
          return;
        }
        int status = rpc_status(*reply);
        if (status == 404) {
          directory_.remove_id(device_id);
        } else if (status == 200) {
          if (auto d = device_from_json(reply->data)) directory_.upsert(std::move(d).value());
        }
      },
      rpc_headers("GET", "/internal/v1/devices/" + device_id));
}

void RegistryLink::lookup(const std::string& dev_eui, std::function<void(Result<std::optional<Device>>)> done) {
  rpc_.request_async(
      contract::subject::rpc(contract::kRegistry, contract::kIngest), "", options_.request_timeout,
      [this, dev_eui, done = std::move(done)](Result<bus::Message> reply) {
        if (!reply) return done(reply.take_error());
        int status = rpc_status(*reply);
        if (status == 404) {
          directory_.remember_unknown(dev_eui, std::chrono::steady_clock::now());
          return done(std::optional<Device>());
        }
        if (status != 200) return done(Error(Errc::unavailable, "registry answered " + std::to_string(status)));
        auto d = device_from_json(reply->data);
        if (!d) return done(d.take_error());
        directory_.upsert(*d);
        return done(std::optional<Device>(std::move(d).value()));
      },
      rpc_headers("GET", "/internal/v1/devices/by-eui/" + dev_eui));
}

void RegistryLink::register_device(const std::string& dev_eui, const std::string& name,
                                   std::function<void(Result<Device>)> done) {
  json::Writer w;
  w.start_object().field("dev_eui", dev_eui).field("name", name.empty() ? dev_eui : name).end_object();
  rpc_.request_async(
      contract::subject::rpc(contract::kRegistry, contract::kIngest), w.take(), options_.request_timeout,
      [this, dev_eui, done = std::move(done)](Result<bus::Message> reply) {
        if (!reply) return done(reply.take_error());
        int status = rpc_status(*reply);
        if (status == 409) {
          // Registered meanwhile (another replica, a user): use the existing device.
          return lookup(dev_eui, [done](Result<std::optional<Device>> found) {
            if (!found) return done(found.take_error());
            if (!*found) return done(Error(Errc::conflict, "device exists but cannot be found"));
            done(std::move(**found));
          });
        }
        if (status != 201 && status != 200)
          return done(
              Error(status == 422 ? Errc::invalid_argument : Errc::unavailable,
                    "registry refused to register the device (" + std::to_string(status) + "): " + reply->data));
        auto d = device_from_json(reply->data);
        if (!d) return done(d.take_error());
        log::info("device registered automatically", {{"dev_eui", dev_eui}, {"id", d->id}});
        directory_.upsert(*d);
        done(std::move(d).value());
      },
      rpc_headers("POST", "/internal/v1/devices"));
}

void RegistryLink::announce(const StateChange& change) {
  auto r = nats_.publish(contract::subject::device_state(change.dev_eui), contract::encode(change));
  if (!r) log::warn("devstate publish failed", {{"dev_eui", change.dev_eui}, {"error", r.error().message}});
}

}  // namespace dm::ingest
