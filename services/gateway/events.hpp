#pragma once
// GET /api/v1/events: the live stream the console follows (Server-Sent Events), fed by the NATS
// taps through the EventHub. Authenticated like every API route (access.cpp) from the request's
// Authorization or X-API-Key header — a browser reads it with fetch() and a ReadableStream, so no
// credential ever travels in a URL (EventSource cannot send headers, and URLs end up in logs).
#include "dm/bus/connection.hpp"
#include "dm/http/router.hpp"
#include "event_hub.hpp"

namespace dm::gateway {

void add_event_routes(http::Router& router, EventHub& hub);

// The hub's subscriptions on `nats`; each new one is flushed, so the server has it before the
// client is told it is ready.
EventHub::Subscribe nats_subscriber(bus::Connection& nats);

}  // namespace dm::gateway
