// The console's live events (events.cpp), in the route table so that access control and the
// OpenAPI document cover them like every other route.
#include "routes.hpp"

namespace dm::gateway {

std::vector<RouteSpec> event_routes() {
  return {
      {"GET",
       "/api/v1/events",
       "gateway",
       "events",
       "Live events (Server-Sent Events) from the NATS taps: device states, flow runs, function runs, deliveries, "
       "dead letters, definition changes. Authenticate with the Authorization or X-API-Key header (read it with "
       "fetch, not EventSource: no credential in the URL). The first event is `ready` (every subscription is in "
       "place); then one event per tap message, named after its topic, with data {\"subject\", \"data\"}; a comment "
       "line every 15 s while quiet. The stream ends after EVENTS_MAX_AGE (5 minutes), when any account or key "
       "changes, or when the client falls more than EVENTS_QUEUE_BYTES behind: reconnect (after the `retry` delay) "
       "and reload what is shown. 429 beyond EVENTS_MAX_PER_USER streams per user (8) or EVENTS_MAX_CONNECTIONS in "
       "all (200)",
       Access::viewer,
       nullptr,
       "LiveEvent",
       200,
       {{"topics", "string",
         "Required. Comma-separated, at most 16: devstate, flows, functions, deliveries, deadletters, definitions, "
         "each optionally narrowed to one id as topic:id (devstate:<dev_eui>, flows:<flow_id>, "
         "functions:<function_id>, deliveries:<integration_or_storage_id>, deadletters:<kind>, "
         "definitions:<kind>), and device:<dev_eui> (every event of one device)"}},
       "text/event-stream"},
  };
}

}  // namespace dm::gateway
