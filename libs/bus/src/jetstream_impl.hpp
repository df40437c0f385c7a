#pragma once
#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>

#include "async_publisher.hpp"
#include "dm/bus/jetstream.hpp"

namespace dm::bus {

struct JetStream::Impl {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::shared_ptr<AsyncPublisher> async;

  ~Impl() { close(); }
  // Fails pending async publishes, then frees the context. Idempotent.
  void close();
};

// The JetStream context of a connection; `timeout` bounds API calls and async publish acks.
// `impl_out` lets the Connection reach the internals (drain, close) without friendship.
Result<std::unique_ptr<JetStream>> make_jetstream(natsConnection* nc, std::chrono::milliseconds timeout,
                                                  JetStream::Impl** impl_out);

// The subscription behind a PullConsumer, shared with the messages it fetched: acking
// goes through the message's subscription, so it must outlive every message.
struct PullHandle {
  natsSubscription* sub = nullptr;
  PullHandle() = default;
  PullHandle(const PullHandle&) = delete;
  PullHandle& operator=(const PullHandle&) = delete;
  ~PullHandle() { natsSubscription_Destroy(sub); }  // keeps the durable consumer on the server
};

struct PullConsumer::Impl {
  std::shared_ptr<PullHandle> handle;
  std::string name;  // "stream/durable", for error messages
};

}  // namespace dm::bus
