#pragma once
// A NATS connection that reconnects forever, with core pub/sub, request/reply and a
// JetStream handle. Errors come back as Result values; nothing on the data path throws.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "dm/bus/jetstream.hpp"
#include "dm/bus/message.hpp"
#include "dm/core/result.hpp"

namespace dm::bus {

struct Options {
  std::string url = "nats://127.0.0.1:4222";  // may be a comma-separated list
  std::string name;                           // shown by the server's monitoring
  std::string user;
  std::string password;
  // Where replies to this connection's requests come back (`<prefix>.<unique>...`; nats.c's
  // default "_INBOX" when empty). A service gets its own, so NATS permissions can let it
  // subscribe only there: nobody else can read its replies.
  std::string inbox_prefix;
  bool send_asap = false;  // natsOptions_SetSendAsap: low latency for request/reply; bad for bulk publishing
  std::chrono::milliseconds connect_timeout{2000};
  // JetStream API calls (ensure_*, stream_state) and the ack deadline of publish_async.
  std::chrono::milliseconds jetstream_timeout{5000};
};

using MessageHandler = std::function<void(Message&&)>;

// Unsubscribes on destruction and waits for a running handler to return, so the handler
// never outlives what it captured (unless destroyed from inside its own handler).
class Subscription {
 public:
  struct Impl;
  explicit Subscription(std::unique_ptr<Impl> impl);
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Stops interest, lets already-received messages reach the handler, then closes.
  // Must not be called from the subscription's own handler (it would wait for itself).
  Result<void> drain(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  std::unique_ptr<Impl> impl_;
};

class Connection {
 public:
  struct Impl;

  // Reconnects forever (MaxReconnect -1, waits 250 ms doubling to 2 s, with jitter) and
  // retries a failed first connect in the background, so a service can start before NATS
  // is up: the result is ok even when the server is not reachable yet.
  static Result<std::shared_ptr<Connection>> connect(const Options& options);
  // Closes; pending request_async/publish_async callbacks get Errc::unavailable. Dropped from
  // inside one of its own callbacks, it hands the teardown to a short-lived thread.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const;
  // The largest message the server takes (its max_payload; 1 MiB by default), or that
  // default while not connected. A publish beyond it fails.
  std::size_t max_payload() const;

  // While reconnecting, publishes are buffered by the client (up to 8 MB) and sent on reconnect.
  Result<void> publish(std::string_view subject, std::string_view data, const Headers& headers = {});
  // Answers on request.reply. A reply over max_payload() goes in numbered parts when the
  // request said it takes them (every request_async does; headers Dm-Accept-Parts on the
  // request, Dm-Part/Dm-Parts on the parts); otherwise it fails with too_large, as a publish would.
  Result<void> respond(const Message& request, std::string_view data, const Headers& headers = {});
  Result<void> flush(std::chrono::milliseconds timeout);
  Result<Message> request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout,
                          const Headers& headers = {});
  // Many requests in flight at once over one shared wildcard reply subscription.
  // `done` is called exactly once, from a library thread: the reply, or Errc::timeout,
  // or Errc::unavailable (no responders, or the connection is closed). A reply sent in parts
  // (see respond) arrives whole, up to 64 MiB (beyond: too_large), within the same timeout.
  void request_async(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout,
                     std::function<void(Result<Message>)> done, const Headers& headers = {});

  // queue_group empty = plain subscription. The handler runs on a NATS library thread
  // (one thread per subscription, messages in order).
  Result<std::unique_ptr<Subscription>> subscribe(std::string_view subject, std::string_view queue_group,
                                                  MessageHandler handler);

  // Stop receiving, finish in-flight handlers and JetStream async publishes, flush
  // publishes, then close. Afterwards every operation fails with Errc::unavailable.
  Result<void> drain(std::chrono::milliseconds timeout);

  JetStream& jetstream();

  // Counters for /metrics.
  struct Stats {
    std::uint64_t in_msgs = 0;
    std::uint64_t out_msgs = 0;
    std::uint64_t reconnects = 0;
  };
  Stats stats() const;

 private:
  explicit Connection(std::unique_ptr<Impl> impl);
  Result<void> respond_in_parts(const std::string& reply, std::string_view data, const Headers& headers,
                                std::size_t limit);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::bus
