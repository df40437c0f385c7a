#pragma once
// JetStream: idempotent stream/consumer setup, sync and async publishing with
// de-duplication ids, and durable pull consumers with explicit acks.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dm/bus/message.hpp"
#include "dm/core/result.hpp"

namespace dm::bus {

// What removes a stream's messages besides its limits.
enum class Retention {
  limits,      // only the size/age/count limits (streams several consumers read)
  work_queue,  // a message goes once its one consumer acked it (a queue of jobs)
};

struct StreamConfig {
  std::string name;
  std::vector<std::string> subjects;
  std::int64_t max_bytes = -1;
  std::int64_t max_msgs = -1;
  std::chrono::seconds max_age{0};  // 0 = keep forever
  std::chrono::seconds duplicate_window{120};
  bool discard_new = true;  // a full stream rejects publishes instead of dropping old messages
  int replicas = 1;
  bool file_storage = true;
  Retention retention = Retention::limits;  // fixed when the stream is created: NATS will not change it
};

struct ConsumerConfig {
  std::string durable;
  std::string filter_subject;  // empty = every subject of the stream
  std::chrono::milliseconds ack_wait{30000};
  int max_deliver = 10;
  std::vector<std::chrono::milliseconds> backoff;  // redelivery delays; overrides ack_wait when set
  int max_ack_pending = 10000;
};

struct PubAck {
  std::string stream;
  std::uint64_t sequence = 0;
  bool duplicate = false;  // the server already had this msg_id within the duplicate window
};

struct StreamState {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t last_sequence = 0;
  std::int64_t consumers = 0;
  Retention retention = Retention::limits;
  int replicas = 1;
};

struct ConsumerState {
  std::uint64_t pending = 0;      // messages not delivered yet
  std::uint64_t ack_pending = 0;  // delivered, not acked yet
};

// A message fetched from a pull consumer. Move-only; owns the underlying natsMsg and keeps
// its subscription alive so it can still be acked after the PullConsumer is gone.
class JsMessage {
 public:
  struct Impl;
  explicit JsMessage(std::unique_ptr<Impl> impl);
  ~JsMessage();
  JsMessage(JsMessage&&) noexcept;
  JsMessage& operator=(JsMessage&&) noexcept;

  const std::string& subject() const;
  std::string_view data() const;
  std::optional<std::string> header(std::string_view key) const;
  std::uint64_t stream_sequence() const;
  int delivered() const;  // delivery count from metadata: 1 on first delivery
  // When the stream stored it (its age decides when redelivering must stop).
  std::chrono::system_clock::time_point stored_at() const;

  Result<void> ack();
  Result<void> ack_sync();  // waits for the server to confirm the ack
  Result<void> nak();
  Result<void> nak(std::chrono::milliseconds delay);
  Result<void> term();         // never redeliver
  Result<void> in_progress();  // restarts the ack_wait timer

 private:
  std::unique_ptr<Impl> impl_;
};

// Not thread-safe: fetch from one thread at a time (the acks may go anywhere).
class PullConsumer {
 public:
  struct Impl;
  explicit PullConsumer(std::unique_ptr<Impl> impl);
  ~PullConsumer();
  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;

  // Waits up to timeout for up to `batch` messages; no messages within timeout → ok, empty vector.
  Result<std::vector<JsMessage>> fetch(int batch, std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<Impl> impl_;
};

class JetStream {
 public:
  struct Impl;
  explicit JetStream(std::unique_ptr<Impl> impl);  // made by Connection
  ~JetStream();
  JetStream(const JetStream&) = delete;
  JetStream& operator=(const JetStream&) = delete;

  Result<void> ensure_stream(const StreamConfig& config);  // add, or update if it exists with other settings
  Result<void> ensure_consumer(std::string_view stream, const ConsumerConfig& config);  // durable pull, explicit ack
  Result<StreamState> stream_state(std::string_view stream);  // Errc::not_found if it does not exist
  Result<ConsumerState> consumer_state(std::string_view stream, std::string_view durable);  // not_found likewise
  Result<void> delete_stream(std::string_view stream);

  // Waits for the PubAck. Nats-Msg-Id = msg_id when non-empty (de-duplication).
  Result<PubAck> publish(std::string_view subject, std::string_view data, std::string_view msg_id,
                         std::chrono::milliseconds timeout, const Headers& headers = {});
  // Many in flight; `done` is called exactly once, from a library thread, with the PubAck or an
  // error: Errc::timeout (no ack within Options::jetstream_timeout), Errc::unavailable (stream
  // full with DiscardNew, no stream for the subject, connection closed), others as translated.
  void publish_async(std::string_view subject, std::string_view data, std::string_view msg_id,
                     std::function<void(Result<PubAck>)> done, const Headers& headers = {});
  // Binds to the durable consumer; Errc::not_found when it (or its stream) does not exist.
  Result<std::unique_ptr<PullConsumer>> pull_subscribe(std::string_view stream, std::string_view durable,
                                                       std::string_view filter_subject);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::bus
