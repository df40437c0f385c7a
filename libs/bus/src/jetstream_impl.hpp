#pragma once
#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "async_publisher.hpp"
#include "dm/bus/jetstream.hpp"

namespace dm::bus {

struct JetStream::Impl {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::shared_ptr<AsyncPublisher> async;
  std::string inbox_prefix;  // pull consumers' reply subjects go under it

  ~Impl() { close(); }
  // Fails pending async publishes, then frees the context. Idempotent.
  void close();
};

// The JetStream context of a connection; `timeout` bounds API calls and async publish acks.
// `impl_out` lets the Connection reach the internals (drain, close) without friendship.
Result<std::unique_ptr<JetStream>> make_jetstream(natsConnection* nc, std::chrono::milliseconds timeout,
                                                  std::string inbox_prefix, JetStream::Impl** impl_out);

// What a PullConsumer's messages need to be acked: acks are plain publishes to each message's
// reply subject. The subscription is kept (not necessarily subscribed) because nats.c keeps
// the connection's memory alive while one of its subscriptions exists, so a message can still
// be acked, or fail cleanly, after its consumer and even its Connection are gone.
struct PullHandle {
  natsConnection* nc = nullptr;
  natsSubscription* sub = nullptr;
  PullHandle() = default;
  PullHandle(const PullHandle&) = delete;
  PullHandle& operator=(const PullHandle&) = delete;
  ~PullHandle() { natsSubscription_Destroy(sub); }  // keeps the durable consumer on the server
};

// Takes ownership of `msg`, a message a pull consumer received.
JsMessage make_js_message(natsMsg* msg, std::shared_ptr<PullHandle> handle);

// A continuous pull (pull_consumer.cpp): pull requests stay outstanding on the server, so
// messages arrive as they are stored instead of one request and one status per fetch.
struct PullConsumer::Impl {
  using Clock = std::chrono::steady_clock;
  struct Request {
    std::uint64_t id = 0;         // last token of its reply subject, which its status messages carry
    int remaining = 0;            // messages the server may still send for it
    Clock::time_point forget_at;  // past its expiry: forgotten even if its status never came
  };

  std::shared_ptr<PullHandle> handle;
  std::string name;              // "stream/durable", for error messages
  std::string next_subject;      // $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>
  std::string inbox;             // "<inbox prefix>.<nuid>.": a request's reply subject adds its id
  std::deque<Request> requests;  // oldest first: the server serves waiting requests in order
  std::uint64_t next_id = 1;

  ~Impl();
  int owed() const;  // messages the open requests may still bring (at most a few requests)
  Result<void> top_up(int batch);
  void forget_expired(Clock::time_point now);
  void spend_one();
  // A status message (no payload, a Status header) ended or refused one of our requests.
  Result<void> on_status(natsMsg* msg);
};

}  // namespace dm::bus
