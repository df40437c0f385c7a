#pragma once
#include <nats/nats.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "dm/bus/connection.hpp"
#include "jetstream_impl.hpp"
#include "requester.hpp"

namespace dm::bus {

// What the connection-level C callbacks (closed, disconnected, ...) need; reached through
// ClosureRegistry because nats.c may call them after the Connection is gone.
struct ConnectionEvents {
  std::string name;
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  bool closing = false;  // we asked for it: no "disconnected" warning
};

struct Connection::Impl {
  natsConnection* nc = nullptr;
  std::shared_ptr<ConnectionEvents> events;
  void* events_closure = nullptr;
  std::unique_ptr<JetStream> jetstream;
  JetStream::Impl* js = nullptr;  // inside `jetstream`

  std::string inbox_prefix;  // of the requester's reply subscription
  std::mutex requester_mu;
  std::shared_ptr<Requester> requester;  // created on first request_async

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { close(); }

  Requester& get_requester();
  void mark_closing();
  // Fails pending async work, closes and frees the NATS connection. Idempotent.
  void close();
};

}  // namespace dm::bus
