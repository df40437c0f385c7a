#pragma once
// The entries of one stream message that carries many (contract::BatchWriter: ingest's
// device-event batches, the orchestrator's delivery-job batches), each settled on its own by
// the consumer that reads it. The message itself is acked once every part of it is done, or
// handed back (nak) once they are all settled if any asked to come back: the whole message is
// then delivered again, and the consumer skips what it already did by its own idempotent keys
// (history rows, run keys, job ids). A MessagePart reads like the JsMessage it came from, so a
// consumer works on parts the way it worked on messages.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dm/bus/jetstream.hpp"

namespace dm::service {

class MessagePart {
 public:
  struct Batch;  // the message, shared by its parts
  MessagePart(std::shared_ptr<Batch> batch, std::size_t index, std::string name, std::string_view data);
  MessagePart(MessagePart&&) noexcept;
  MessagePart& operator=(MessagePart&&) noexcept;
  ~MessagePart();  // a part dropped unsettled counts as handed back

  // The entry's name: an event's tap subject (dm.device.<dev_eui>.<event>), which names the
  // device; a job's id, or empty for a job that came alone.
  const std::string& name() const { return name_; }
  std::string_view data() const { return data_; }
  std::size_t index() const { return index_; }  // its place in the message
  std::uint64_t stream_sequence() const;        // of the message
  int delivered() const;                        // of the message
  std::chrono::system_clock::time_point stored_at() const;
  std::optional<std::string> header(std::string_view key) const;  // of the message

  // Each part settles once (later calls do nothing). The message goes once all are settled.
  Result<void> ack();
  Result<void> nak();
  Result<void> nak(std::chrono::milliseconds delay);  // the shortest delay asked is the message's
  Result<void> in_progress();                         // keeps the whole message alive (told once a second at most)

 private:
  Result<void> settle(bool again, std::chrono::milliseconds delay);
  std::shared_ptr<Batch> batch_;
  std::size_t index_ = 0;
  std::string name_;
  std::string_view data_;  // into the message, which the batch keeps
  bool settled_ = false;
};

// How many messages to fetch for about `parts` parts: a batch holds one when it is quiet and
// hundreds under load, so a fixed number of messages would hold an unbounded number of parts
// in memory. Follows the recent parts per message.
class FetchSize {
 public:
  explicit FetchSize(int parts) : parts_(parts < 1 ? 1 : parts) {}
  int messages() const;
  void saw(std::size_t messages, std::size_t parts);

 private:
  int parts_;
  double per_message_ = 1;
};

// A fetched DM_DEVICE_EVENTS message's events, in order. A message on a device-event subject
// (written by an older ingest, one event per message) is one part.
std::vector<MessagePart> unpack_events(bus::JsMessage message);
// A fetched DM_DISPATCH message's delivery jobs, in order: a batch (contract::kJobBatchHeader)
// or one job alone.
std::vector<MessagePart> unpack_jobs(bus::JsMessage message);

// Fetches about `size` parts (as PullConsumer::fetch waits for messages) and unpacks them
// with `unpack` (unpack_events, unpack_jobs), in order; `size` learns from what came.
Result<std::vector<MessagePart>> fetch_parts(bus::PullConsumer& consumer, FetchSize& size,
                                             std::chrono::milliseconds timeout,
                                             std::vector<MessagePart> (*unpack)(bus::JsMessage));

}  // namespace dm::service
