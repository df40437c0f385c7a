#pragma once
// The JetStream streams and durable consumers, defined once. Provisioning (tools/provision,
// `dm-provision`, with its own NATS user) creates and updates them; the services only bind to
// them, so no service may create, change, purge or delete a stream.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dm/bus/jetstream.hpp"
#include "dm/core/config.hpp"

namespace dm::contract {

inline constexpr const char* kDeviceEventsStream = "DM_DEVICE_EVENTS";
inline constexpr const char* kDispatchStream = "DM_DISPATCH";
inline constexpr const char* kHistoryConsumer = "ingest-history";           // every device event → ingest's history
inline constexpr const char* kUplinkConsumer = "flow-orchestrator";         // uplinks → flows
inline constexpr const char* kDispatchConsumer = "integration-dispatcher";  // delivery jobs

// What an operator may set; keys in brackets (one .env serves provisioning and the services).
struct StreamSettings {
  int replicas = 1;  // STREAM_REPLICAS: 1, or 3 on a 3-node cluster
  // How long both streams remember Nats-Msg-Ids (STREAM_DEDUP_WINDOW). nats-server keeps every
  // id of the window in memory, so its memory grows with rate × window (at 5,000 uplinks/s, 20 s
  // instead of 2 min took its PSS from ≈ 320 to ≈ 220 MB). It is also what keeps a job published
  // twice (an uplink redelivered after its ack wait) from being delivered twice: the dispatcher
  // checks its history only for redelivered messages, so keep it above ORCHESTRATOR_ACK_WAIT.
  std::chrono::milliseconds dedup_window{std::chrono::minutes(2)};
  std::chrono::milliseconds events_max_age{std::chrono::hours(24 * 7)};    // INGEST_STREAM_MAX_AGE
  std::int64_t events_max_bytes = 10LL << 30;                              // INGEST_STREAM_MAX_BYTES
  std::chrono::milliseconds dispatch_max_age{std::chrono::hours(24 * 7)};  // DISPATCHER_STREAM_MAX_AGE
  std::int64_t dispatch_max_bytes = 1LL << 30;                             // DISPATCHER_STREAM_MAX_BYTES
  std::chrono::milliseconds history_ack_wait{std::chrono::seconds(30)};    // INGEST_HISTORY_ACK_WAIT
  std::chrono::milliseconds uplink_ack_wait{std::chrono::seconds(60)};     // ORCHESTRATOR_ACK_WAIT
  std::chrono::milliseconds dispatch_ack_wait{std::chrono::seconds(60)};   // DISPATCHER_ACK_WAIT
  int dispatch_max_ack_pending = 20000;                                    // DISPATCHER_MAX_PENDING
};
// Reads the keys above (recording problems in `config`); works with any scope.
StreamSettings read_stream_settings(Config& config);

// Full streams: a publish is refused (discard new) rather than an acknowledged message dropped.
bus::StreamConfig device_events_stream(const StreamSettings& s);
bus::StreamConfig dispatch_stream(const StreamSettings& s);  // work queue: a delivered job leaves it

struct ConsumerDef {
  std::string stream;
  bus::ConsumerConfig config;
};
// Every durable consumer, with its stream.
std::vector<ConsumerDef> consumers(const StreamSettings& s);

}  // namespace dm::contract
