#pragma once
// The events of one DM_DEVICE_EVENTS message (a device-event batch, contract::EventBatchWriter),
// each settled on its own by the consumer that reads it. The message itself is acked once
// every event of it is done, or handed back (nak) once they are all settled if any asked to
// come back: the whole batch is then delivered again, and the consumer skips what it already
// did by its own idempotent keys (history rows, run keys). An EventPart reads like the
// JsMessage it came from, so a consumer works on events the way it worked on messages.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dm/bus/jetstream.hpp"

namespace dm::service {

class EventPart {
 public:
  struct Batch;  // the message, shared by its parts
  EventPart(std::shared_ptr<Batch> batch, std::size_t index, std::string subject, std::string_view data);
  EventPart(EventPart&&) noexcept;
  EventPart& operator=(EventPart&&) noexcept;
  ~EventPart();  // a part dropped unsettled counts as handed back

  // The event's tap subject (dm.device.<dev_eui>.<event>): it names the device.
  const std::string& subject() const { return subject_; }
  std::string_view data() const { return data_; }
  std::size_t index() const { return index_; }  // its place in the message
  std::uint64_t stream_sequence() const;        // of the message
  int delivered() const;                        // of the message
  std::chrono::system_clock::time_point stored_at() const;

  // Each part settles once (later calls do nothing). The message goes once all are settled.
  Result<void> ack();
  Result<void> nak();
  Result<void> nak(std::chrono::milliseconds delay);  // the shortest delay asked is the message's
  Result<void> in_progress();                         // keeps the whole message alive

 private:
  Result<void> settle(bool again, std::chrono::milliseconds delay);
  std::shared_ptr<Batch> batch_;
  std::size_t index_ = 0;
  std::string subject_;
  std::string_view data_;  // into the message, which the batch keeps
  bool settled_ = false;
};

// How many messages to fetch for about `events` events: a batch holds one event when it is
// quiet and hundreds under load, so a fixed number of messages would hold an unbounded number
// of events in memory. Follows the recent events per message.
class FetchSize {
 public:
  explicit FetchSize(int events) : events_(events < 1 ? 1 : events) {}
  int messages() const;
  void saw(std::size_t messages, std::size_t events);

 private:
  int events_;
  double per_message_ = 1;
};

// A fetched message's events, in order. A message on a device-event subject (written by an
// older ingest, one event per message) is one part.
std::vector<EventPart> unpack_events(bus::JsMessage message);

// Fetches about `size` events (as PullConsumer::fetch waits for messages) and unpacks them,
// in order; `size` learns from what came.
Result<std::vector<EventPart>> fetch_events(bus::PullConsumer& consumer, FetchSize& size,
                                            std::chrono::milliseconds timeout);

}  // namespace dm::service
