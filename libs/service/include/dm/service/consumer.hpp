#pragma once
// Binding a service to its durable consumer. Streams and consumers are made by provisioning
// (dm-provision); a service starting first (compose, Kubernetes) waits for them instead of
// failing, and says so.
#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>

#include "dm/bus/jetstream.hpp"

namespace dm::service {

// Binds to `stream`/`durable`, trying again every half second while it does not exist yet,
// until `patience` runs out or `stop` is set; other errors come back at once.
Result<std::unique_ptr<bus::PullConsumer>> bind_consumer(bus::JetStream& js, std::string_view stream,
                                                         std::string_view durable, std::string_view filter,
                                                         std::chrono::milliseconds patience,
                                                         const std::atomic<bool>* stop = nullptr);

}  // namespace dm::service
