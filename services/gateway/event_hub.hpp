#pragma once
// Live events for the console (GET /api/v1/events, events.cpp): which taps a client may follow,
// and the hub that follows them on NATS for the clients connected to this gateway.
//
// The hub subscribes to a tap subject only while some client follows it (the first client
// subscribes, the last one leaving unsubscribes), so a gateway nobody watches receives none of
// the per-uplink taps. Every client has its own bounded queue (http::Stream): a client that
// cannot keep up is dropped instead of holding memory, and caps bound the connections per user,
// in all, and the subjects subscribed at once.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dm/core/result.hpp"
#include "dm/http/stream.hpp"
#include "dm/metrics/metrics.hpp"

namespace dm::gateway {

// One thing a client follows: a family of taps, or one id in it.
struct Topic {
  std::string family;   // "devstate": also the SSE event name of what it delivers
  std::string id;       // "" = the whole family
  std::string subject;  // "dm.devstate.>" or "dm.devstate.0004a30b001c0530"
};

inline constexpr std::size_t kMaxTopicsPerStream = 16;

// "devstate,flows:<flow_id>,device:<dev_eui>" → topics without repeats (a family followed whole
// swallows its narrowed topics). Errc::invalid_argument naming the first bad entry.
Result<std::vector<Topic>> parse_topics(std::string_view list);

// One Server-Sent Events frame: `event: <event>` and the data {"subject":…,"data":<payload>}.
// `payload` is the tap's JSON as published; a line break in it becomes a new data line, which
// SSE joins back with a line break, so the JSON reaches the client unchanged.
std::string sse_frame(std::string_view event, std::string_view subject, std::string_view payload);

struct EventLimits {
  std::size_t max_connections = 200;  // streams open at once on this gateway
  std::size_t max_per_user = 8;       // streams of one user (tabs, windows)
  std::size_t max_subjects = 64;      // NATS subscriptions at once (each has a delivery thread)
  http::StreamOptions stream;         // per client: queue bound, keep-alive, longest life
};

class EventHub {
 public:
  // A NATS subscription; dropping the handle unsubscribes and waits for a running delivery.
  using Handle = std::shared_ptr<void>;
  using Deliver = std::function<void(const std::string& subject, std::string_view payload)>;
  using Subscribe = std::function<Result<Handle>(const std::string& subject, Deliver deliver)>;

  enum class Refusal { none, overall, per_user, subjects };
  struct Opening {
    std::shared_ptr<http::Stream> stream;  // set unless refused
    Refusal refused = Refusal::none;
  };
  struct Stats {
    std::size_t connections = 0;
    std::size_t subjects = 0;
  };

  // `dropped` (may be null) counts clients dropped for not keeping up.
  EventHub(EventLimits limits, Subscribe subscribe, metrics::Counter* dropped = nullptr);
  ~EventHub();  // unsubscribes everything; the HTTP server must have stopped
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // A stream for `user` following `topics` (subscribing to what nobody followed yet); `first`
  // is queued before any event. Errors: a subscription failed (unavailable).
  Result<Opening> open(const std::string& user, const std::vector<Topic>& topics, std::string first);
  // Ends every stream: their clients reconnect and are authenticated again.
  void close_all();
  Stats stats() const;

 private:
  struct Client {
    std::string user;
    std::shared_ptr<http::Stream> stream;
    std::vector<std::string> subjects;
    bool dropped = false;
  };
  struct Subject {
    std::string family;
    Handle handle;
    std::vector<std::uint64_t> clients;
  };

  Refusal refusal(const std::string& user, std::size_t new_subjects) const;
  void deliver(const std::string& pattern, const std::string& subject, std::string_view payload);
  void remove(std::uint64_t id);

  const EventLimits limits_;
  const Subscribe subscribe_;
  // Serialises subscribing and unsubscribing (slow: a NATS round trip) without holding mu_,
  // which deliveries take.
  std::mutex subscriptions_mu_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Client> clients_;
  std::unordered_map<std::string, Subject> subjects_;  // by subject pattern
  std::unordered_map<std::string, std::size_t> per_user_;
  std::uint64_t next_id_ = 1;
  metrics::Counter* dropped_;
};

}  // namespace dm::gateway
