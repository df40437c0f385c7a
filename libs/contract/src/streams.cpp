#include "dm/contract/streams.hpp"

#include "dm/contract/subjects.hpp"

namespace dm::contract {
namespace {

std::chrono::seconds whole_seconds(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d);
}

}  // namespace

StreamSettings read_stream_settings(Config& c) {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::minutes;
  using std::chrono::seconds;
  StreamSettings s;
  s.replicas = static_cast<int>(c.integer("STREAM_REPLICAS", 1, 1, 5));
  if (s.replicas != 1 && s.replicas != 3 && s.replicas != 5) c.add_problem("STREAM_REPLICAS must be 1, 3 or 5");
  s.dedup_window = c.millis("STREAM_DEDUP_WINDOW", minutes(2), seconds(10), hours(24));
  s.events_max_age = c.millis("INGEST_STREAM_MAX_AGE", hours(24 * 7), minutes(1), hours(24 * 365));
  s.events_max_bytes = c.integer("INGEST_STREAM_MAX_BYTES", 10LL << 30, 1 << 20, 1LL << 50);
  s.dispatch_max_age = c.millis("DISPATCHER_STREAM_MAX_AGE", hours(24 * 7), minutes(1), hours(24 * 365));
  s.dispatch_max_bytes = c.integer("DISPATCHER_STREAM_MAX_BYTES", 1LL << 30, 1 << 20, 1LL << 50);
  s.history_ack_wait = c.millis("INGEST_HISTORY_ACK_WAIT", seconds(30), seconds(1), hours(1));
  s.uplink_ack_wait = c.millis("ORCHESTRATOR_ACK_WAIT", seconds(60), seconds(1), hours(1));
  s.dispatch_ack_wait = c.millis("DISPATCHER_ACK_WAIT", seconds(60), seconds(1), hours(1));
  s.dispatch_max_ack_pending = static_cast<int>(c.integer("DISPATCHER_MAX_PENDING", 20000, 100, 1000000));
  return s;
}

bus::StreamConfig device_events_stream(const StreamSettings& s) {
  bus::StreamConfig c;
  c.name = kDeviceEventsStream;
  c.subjects = {subject::kEventBatches};
  c.max_age = whole_seconds(s.events_max_age);
  c.max_bytes = s.events_max_bytes;
  c.duplicate_window = whole_seconds(s.dedup_window);
  c.discard_new = true;  // ingest answers 503 rather than dropping events it acknowledged
  c.replicas = s.replicas;
  return c;
}

bus::StreamConfig dispatch_stream(const StreamSettings& s) {
  bus::StreamConfig c;
  c.name = kDispatchStream;
  c.subjects = {subject::kDispatchAll};
  c.max_age = whole_seconds(s.dispatch_max_age);
  c.max_bytes = s.dispatch_max_bytes;
  c.duplicate_window = whole_seconds(s.dedup_window);
  c.discard_new = true;  // the orchestrator's publish fails: the uplink is retried later
  c.replicas = s.replicas;
  c.retention = bus::Retention::work_queue;
  return c;
}

std::vector<ConsumerDef> consumers(const StreamSettings& s) {
  // max_deliver unlimited everywhere: the consumers decide when a message is done (dead
  // letters with their reason), the server never drops one silently.
  std::vector<ConsumerDef> out;
  out.push_back(
      {kDeviceEventsStream,
       {.durable = kHistoryConsumer, .ack_wait = s.history_ack_wait, .max_deliver = -1, .max_ack_pending = 20000}});
  out.push_back({kDeviceEventsStream,
                 {.durable = kUplinkConsumer,
                  .filter_subject = subject::kUplinkBatches,
                  .ack_wait = s.uplink_ack_wait,
                  .max_deliver = -1,
                  .max_ack_pending = 20000}});
  out.push_back({kDispatchStream,
                 {.durable = kDispatchConsumer,
                  .ack_wait = s.dispatch_ack_wait,
                  .max_deliver = -1,
                  .max_ack_pending = s.dispatch_max_ack_pending}});
  return out;
}

}  // namespace dm::contract
