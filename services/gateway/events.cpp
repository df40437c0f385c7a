#include "events.hpp"

#include "auth_context.hpp"
#include "dm/api/body.hpp"
#include "dm/core/log.hpp"
#include "dm/json/json.hpp"

namespace dm::gateway {
namespace {

// The first frame: how long the client waits before reconnecting, and what it follows. Once it
// arrives every subscription is in place, so what the client loads next misses no change.
std::string ready_frame(const std::vector<Topic>& topics) {
  json::Writer w;
  w.start_object().key("topics").start_array();
  for (const auto& t : topics) w.string(t.id.empty() ? t.family : t.family + ":" + t.id);
  w.end_array().end_object();
  return "retry: 3000\nevent: ready\ndata: " + w.take() + "\n\n";
}

http::Response refused(EventHub::Refusal why) {
  std::string detail;
  int retry_after = 10;
  switch (why) {
    case EventHub::Refusal::per_user:
      detail = "Too many live event streams for this user: close one (another tab?) first";
      break;
    case EventHub::Refusal::overall:
      detail = "Too many live event streams on this gateway; try again later";
      retry_after = 30;
      break;
    default:
      detail = "Too many different topics followed on this gateway; try again later";
      retry_after = 30;
      break;
  }
  auto r = http::Response::error(429, detail);
  r.headers.set("Retry-After", std::to_string(retry_after));
  return r;
}

}  // namespace

void add_event_routes(http::Router& router, EventHub& hub) {
  router.add_sync("GET", "/api/v1/events", [&hub](const http::Request& req) {
    auto list = req.query_param("topics");
    if (!list) return api::validation_error({"query", "topics"}, "Field required", "missing");
    auto topics = parse_topics(*list);
    if (!topics) return api::validation_error({"query", "topics"}, topics.error().message);
    auto opened = hub.open(caller_of(req).user_id, *topics, ready_frame(*topics));
    if (!opened) {
      log::warn("live events unavailable", {{"error", opened.error().message}});
      return http::Response::error(503, "Live events are unavailable: " + opened.error().message);
    }
    if (opened->refused != EventHub::Refusal::none) return refused(opened->refused);
    auto res = http::Response::streaming(opened->stream, "text/event-stream; charset=utf-8");
    res.headers.set("Cache-Control", "no-store");
    res.headers.set("X-Accel-Buffering", "no");  // a buffering reverse proxy would hold events back
    return res;
  });
}

EventHub::Subscribe nats_subscriber(bus::Connection& nats) {
  return [&nats](const std::string& subject, EventHub::Deliver deliver) -> Result<EventHub::Handle> {
    DM_ASSIGN_OR_RETURN(auto sub, nats.subscribe(subject, "", [deliver = std::move(deliver)](bus::Message&& m) {
      deliver(m.subject, m.data);
    }));
    if (auto f = nats.flush(std::chrono::seconds(2)); !f) return f.error();
    return EventHub::Handle(std::move(sub));
  };
}

}  // namespace dm::gateway
