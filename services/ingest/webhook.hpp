#pragma once
// POST /api/v1/ingest/chirpstack?event=<type>: authenticate, parse, identify the device,
// publish durably to JetStream and answer 2xx only from the publish ack.
#include <chrono>
#include <cstddef>
#include <string>

#include "batcher.hpp"
#include "directory.hpp"
#include "dm/bus/bus.hpp"
#include "dm/http/router.hpp"
#include "dm/metrics/metrics.hpp"
#include "registry_link.hpp"

namespace dm::ingest {

enum class UnknownPolicy { reject, record, register_device };

struct WebhookOptions {
  std::string secret;
  UnknownPolicy unknown_policy = UnknownPolicy::reject;
  std::size_t recent_ids = 200000;                  // ids remembered to keep repeats off the taps
  std::chrono::milliseconds dedup_window{120000};   // how long they are remembered
  std::chrono::milliseconds publish_timeout{3000};  // 503 after this (ChirpStack waits 5 s)
  BatchOptions batch;                               // how events are grouped into stream messages
};

// Constant-time check of `Authorization: Bearer <secret>` or `X-API-Key: <secret>`.
bool authorized(const http::Request& request, const std::string& secret);

// POST /api/v1/ingest/chirpstack on each of `routers` (ingest's own port, where ChirpStack
// posts, and the RPC router the gateway forwards to), sharing one state.
void add_webhook_route(std::initializer_list<http::Router*> routers, bus::Connection& nats, Directory& directory,
                       RegistryLink& link, metrics::Registry& metrics, const WebhookOptions& options);

}  // namespace dm::ingest
