// The webhook is asynchronous end to end: the handler returns at once and the reply is sent
// from the JetStream ack callback (or a registry answer), so one HTTP thread keeps thousands
// of events in flight. Nothing is published before the body is authenticated and parsed.
#include "webhook.hpp"

#include <openssl/crypto.h>

#include <memory>

#include "batcher.hpp"
#include "deadlines.hpp"
#include "dm/api/body.hpp"
#include "dm/core/log.hpp"
#include "dm/json/json.hpp"
#include "event.hpp"
#include "recent_ids.hpp"

namespace dm::ingest {
namespace {

struct Counters {
  metrics::Counter& accepted;
  metrics::Counter& duplicates;
  metrics::Counter& rejected;
  metrics::Counter& unavailable;
  metrics::Counter& unknown;
};

struct State {
  bus::Connection& nats;
  Directory& directory;
  RegistryLink& link;
  WebhookOptions options;
  Counters counters;
  RecentIds recent;
  Deadlines deadlines;
  EventBatcher batcher;  // last: destroyed first, while the rest is still there for its answers
};

bool equal_constant_time(std::string_view given, const std::string& secret) {
  // Compare against the secret's length whatever was given, so the time taken does not
  // reveal how many leading bytes matched.
  std::string padded(given.substr(0, secret.size()));
  padded.resize(secret.size(), '\0');
  bool same = CRYPTO_memcmp(padded.data(), secret.data(), secret.size()) == 0;
  return same && given.size() == secret.size();
}

http::Response error_response(int status, std::string_view detail) {
  return http::Response::json(status, json::detail(detail));
}

http::Response unavailable(std::string_view detail) {
  auto r = error_response(503, detail);
  r.headers.set("Retry-After", "1");
  return r;
}

http::Response accepted(const ParsedEvent& event, const std::optional<std::string>& device_id, bool duplicate,
                        std::uint64_t sequence) {
  json::Writer w;
  w.start_object()
      .field("status", duplicate ? "duplicate" : "accepted")
      .field("event_type", event.event_type)
      .field("dev_eui", event.dev_eui)
      .field("dedup_id", event.dedup_id)
      .field("duplicate", duplicate);
  w.field_or_null("device_id", device_id);
  if (sequence > 0) w.field("sequence", static_cast<std::int64_t>(sequence));
  w.end_object();
  return http::Response::json(200, w.take());
}

void publish(const std::shared_ptr<State>& st, ParsedEvent ev, const std::optional<std::string>& device_id,
             http::Reply reply) {
  std::string msg_id = ev.msg_id();
  auto event = std::make_shared<ParsedEvent>(std::move(ev));
  auto seen = st->recent.begin(msg_id, [st, event, device_id, reply](bool stored) {
    if (stored) st->counters.duplicates.inc();
    reply(stored ? accepted(*event, device_id, true, 0) : unavailable("event not stored"));
  });
  if (seen == RecentIds::Seen::stored) {
    st->counters.duplicates.inc();
    return reply(accepted(*event, device_id, true, 0));
  }
  if (seen == RecentIds::Seen::pending) return;  // answered when the first copy's publish ends
  // Repeats are caught above (RecentIds), not by the stream: it stores batches, whose ids are
  // their own, and the consumers are idempotent on the event's dedup id.
  st->batcher.add(event->event_type, event->subject(), to_message(*event, device_id),
                  [st, event, device_id, msg_id, reply = std::move(reply)](Result<bus::PubAck> ack) {
                    st->recent.finish(msg_id, ack.ok());
                    if (!ack) {
                      st->counters.unavailable.inc();
                      log::warn("event not stored", {{"dev_eui", event->dev_eui}, {"error", ack.error().message}});
                      return reply(unavailable("event not stored: " + ack.error().message));
                    }
                    st->counters.accepted.inc();
                    if (device_id) {
                      auto at = parse_rfc3339(event->received_at);
                      if (auto change = st->directory.seen(event->dev_eui, at ? *at : dm::now(), event->battery_level))
                        st->link.announce(*change);
                    }
                    reply(accepted(*event, device_id, false, ack->sequence));
                  });
}

void unknown_device(const std::shared_ptr<State>& st, ParsedEvent ev, http::Reply reply) {
  st->counters.unknown.inc();
  switch (st->options.unknown_policy) {
    case UnknownPolicy::reject:
      return reply(error_response(404, "unknown device: dev_eui " + ev.dev_eui + " is not registered"));
    case UnknownPolicy::record:
      return publish(st, std::move(ev), std::nullopt, std::move(reply));
    case UnknownPolicy::register_device: {
      auto event = std::make_shared<ParsedEvent>(std::move(ev));
      st->link.register_device(
          event->dev_eui, event->device_name, [st, event, reply = std::move(reply)](Result<Device> d) mutable {
            if (!d) {
              log::warn("auto-registration failed", {{"dev_eui", event->dev_eui}, {"error", d.error().message}});
              return reply(unavailable("device could not be registered: " + d.error().message));
            }
            publish(st, std::move(*event), d->id, std::move(reply));
          });
      return;
    }
  }
}

void handle(const std::shared_ptr<State>& st, const http::Request& req, http::Reply reply) {
  if (!authorized(req, st->options.secret)) {
    st->counters.rejected.inc();
    auto r = error_response(401, "missing or invalid ingest secret (Authorization: Bearer <secret> or X-API-Key)");
    r.headers.set("WWW-Authenticate", "Bearer");
    return reply(std::move(r));
  }
  // ChirpStack's HTTP integration can also post protobuf: only its JSON is understood here.
  if (auto refused = api::refuse_non_json(req)) {
    st->counters.rejected.inc();
    return reply(std::move(*refused));
  }
  auto parsed = parse_chirpstack(req.body, req.query_param("event").value_or(""), dm::now());
  if (!parsed) {
    st->counters.rejected.inc();
    int status = parsed.error().code == Errc::too_large ? 413 : 400;
    return reply(error_response(status, parsed.error().message));
  }
  // Never 2xx without the durable write, and never make ChirpStack wait for a bus that is gone.
  if (!st->nats.connected()) {
    st->counters.unavailable.inc();
    return reply(unavailable("event bus unavailable"));
  }
  // From here on the answer may come from another thread; whatever happens, it comes in time.
  auto once = std::make_shared<OnceReply>(std::move(reply));
  st->deadlines.add(once, [&unavailable_count = st->counters.unavailable](OnceReply& late) {
    unavailable_count.inc();
    late(unavailable("event not stored in time"));
  });
  reply = [once](http::Response res) { (*once)(std::move(res)); };
  ParsedEvent ev = std::move(parsed).value();
  if (auto hit = st->directory.find(ev.dev_eui)) return publish(st, std::move(ev), hit->id, std::move(reply));
  if (st->directory.known_unknown(ev.dev_eui, std::chrono::steady_clock::now()))
    return unknown_device(st, std::move(ev), std::move(reply));
  auto event = std::make_shared<ParsedEvent>(std::move(ev));
  st->link.lookup(event->dev_eui, [st, event, reply = std::move(reply)](Result<std::optional<Device>> found) mutable {
    if (!found) {
      // Without the registry we cannot tell a device from a stranger; recording keeps it.
      if (st->options.unknown_policy == UnknownPolicy::record)
        return publish(st, std::move(*event), std::nullopt, std::move(reply));
      return reply(unavailable("device registry unavailable: " + found.error().message));
    }
    if (*found) return publish(st, std::move(*event), (*found)->id, std::move(reply));
    unknown_device(st, std::move(*event), std::move(reply));
  });
}

}  // namespace

bool authorized(const http::Request& request, const std::string& secret) {
  if (secret.empty()) return false;
  if (auto auth = request.header("Authorization")) {
    std::string_view v(*auth);
    if (v.size() > 7 && http::iequals(v.substr(0, 7), "Bearer ") && equal_constant_time(v.substr(7), secret))
      return true;
  }
  if (auto key = request.header("X-API-Key")) return equal_constant_time(*key, secret);
  return false;
}

void add_webhook_route(std::initializer_list<http::Router*> routers, bus::Connection& nats, Directory& directory,
                       RegistryLink& link, metrics::Registry& metrics, const WebhookOptions& options) {
  auto counter = [&metrics](const char* result) -> metrics::Counter& {
    return metrics.counter("dm_ingest_webhooks_total", "ChirpStack webhooks by result.",
                           std::string("result=\"") + result + "\"");
  };
  auto st = std::shared_ptr<State>(new State{nats, directory, link, options,
                                             Counters{counter("accepted"), counter("duplicate"), counter("rejected"),
                                                      counter("unavailable"), counter("unknown_device")},
                                             RecentIds(options.recent_ids, options.dedup_window),
                                             Deadlines(options.publish_timeout), EventBatcher(nats, options.batch)});
  for (auto* router : routers)
    router->add("POST", "/api/v1/ingest/chirpstack",
                [st](const http::Request& req, http::Reply reply) { handle(st, req, std::move(reply)); });
}

}  // namespace dm::ingest
