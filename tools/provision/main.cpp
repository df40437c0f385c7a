// dm-provision: creates or updates the JetStream streams and durable consumers Device Manager
// needs (dm/contract/streams.hpp), with its own NATS user: the services may only bind to
// them, never create, change, purge or delete a stream. Run before the services start, and
// again after their stream settings change (deploy/local/up, compose's `provision` service and
// the Kubernetes Job do).
//
//   dm-provision [--wait SECONDS]
//
// Environment: NATS_URL; PROVISION_NATS_USER / PROVISION_NATS_PASSWORD (else NATS_USER /
// NATS_PASSWORD); the stream settings of contract::read_stream_settings (STREAM_REPLICAS,
// INGEST_STREAM_MAX_AGE, ...). Exit status: 0 done, 1 NATS refused or unreachable, 2 bad
// configuration.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "dm/bus/bus.hpp"
#include "dm/contract/streams.hpp"
#include "dm/core/log.hpp"

namespace {

using namespace dm;

// An earlier version made DM_DISPATCH with limits retention, and NATS will not change the
// retention of a stream. When its consumer has nothing pending, nothing is lost by making it
// anew as a work queue; otherwise it is kept (it works, only keeps delivered jobs until its
// limits drop them) and provisioning says how to finish the change later.
Result<void> ensure_dispatch_stream(bus::JetStream& js, const bus::StreamConfig& want) {
  auto state = js.stream_state(want.name);
  if (state && state->retention != want.retention) {
    auto pending = js.consumer_state(want.name, contract::kDispatchConsumer);
    bool idle = !pending ? pending.error().code == Errc::not_found : pending->pending + pending->ack_pending == 0;
    if (!idle) {
      log::warn(
          "DM_DISPATCH keeps its limits retention for now: its consumer still has jobs to deliver. Run "
          "dm-provision again once they are delivered (or stop the flow orchestrators first)",
          {{"pending", static_cast<std::int64_t>(pending->pending + pending->ack_pending)}});
      return ok();
    }
    log::info("DM_DISPATCH made anew as a work queue (it had limits retention and nothing pending)");
    DM_TRY(js.delete_stream(want.name));
  }
  return js.ensure_stream(want);
}

Result<void> provision(bus::JetStream& js, const contract::StreamSettings& settings) {
  DM_TRY(js.ensure_stream(contract::device_events_stream(settings)));
  DM_TRY(ensure_dispatch_stream(js, contract::dispatch_stream(settings)));
  for (const auto& c : contract::consumers(settings)) DM_TRY(js.ensure_consumer(c.stream, c.config));
  return ok();
}

}  // namespace

int main(int argc, char** argv) {
  log::init("provision", log::Level::info);
  int wait_seconds = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
      wait_seconds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: dm-provision [--wait SECONDS]\n");
      return 2;
    }
  }
  Config config("PROVISION");
  if (const char* file = std::getenv("DM_ENV_FILE")) (void)config.load_env_file(file);
  auto settings = contract::read_stream_settings(config);
  bus::Options options;
  options.url = config.str("NATS_URL", "nats://127.0.0.1:4222");
  options.name = "provision";
  options.user = config.str("NATS_USER", "");
  options.password = config.str("NATS_PASSWORD", "");
  options.inbox_prefix = "_INBOX.provision";
  if (auto valid = config.validate(); !valid) {
    std::fprintf(stderr, "dm-provision: %s\n", valid.error().message.c_str());
    return 2;
  }
  auto conn = bus::Connection::connect(options);
  if (!conn) {
    log::error("cannot connect to NATS", {{"error", conn.error().message}});
    return 1;
  }
  // NATS may still be starting (compose, Kubernetes): try again until --wait runs out.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  for (;;) {
    auto done = (*conn)->connected() ? provision((*conn)->jetstream(), settings)
                                     : Result<void>(Error(Errc::unavailable, "NATS not connected"));
    if (done) {
      log::info("streams and consumers provisioned", {{"replicas", settings.replicas}});
      return 0;
    }
    if (std::chrono::steady_clock::now() >= until) {
      log::error("provisioning failed", {{"error", done.error().message}});
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}
