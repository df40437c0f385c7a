#pragma once
// Webhook events go into DM_DEVICE_EVENTS in batches: the events of one type that arrive within
// BATCH_LINGER are one stream message (contract::BatchWriter), so the stream stores, and
// each of its consumers fetches and acks, one message for all of them. Every event is answered
// from that message's PubAck (never 2xx before it), and once stored each is tapped on its own
// subject (dm.device.<dev_eui>.<event>, core NATS) for whoever follows device events.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/contract/device_event.hpp"

namespace dm::ingest {

struct BatchOptions {
  // How long the first event of a batch waits for others (0: each event is published at once).
  std::chrono::milliseconds linger{10};
  std::size_t max_events = 256;                     // a full batch goes at once
  std::size_t max_bytes = std::size_t{256} * 1024;  // well under NATS's max_payload (1 MiB by default)
};

class EventBatcher {
 public:
  using Done = std::function<void(Result<bus::PubAck>)>;
  EventBatcher(bus::Connection& nats, BatchOptions options);
  ~EventBatcher();  // publishes what it holds
  EventBatcher(const EventBatcher&) = delete;
  EventBatcher& operator=(const EventBatcher&) = delete;

  // Adds one event (its JSON and tap subject) to the batch of its type; `done` is called once,
  // from a library thread, with the PubAck of the message that holds it, or the error.
  void add(std::string_view event_type, std::string_view subject, std::string_view event_json, Done done);

 private:
  struct Pending {
    contract::BatchWriter writer;
    std::vector<Done> done;
    std::chrono::steady_clock::time_point due;
  };
  void run();
  void publish(const std::string& event_type, Pending batch);

  bus::Connection& nats_;
  BatchOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, Pending, std::less<>> pending_;  // by event type
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dm::ingest
