#pragma once
// The dispatcher's REST routes (served over NATS to the gateway): delivery history, dead
// letters and their retry, the integration test, internal storage records.
#include "dispatcher.hpp"
#include "dm/http/router.hpp"

namespace dm::dispatcher {

struct RouteContext {
  db::Pool& db;
  bus::Connection& nats;
  TargetCache& targets;
  Attempter& attempter;
};

void add_history_routes(http::Router& router, RouteContext& ctx);
void add_dead_letter_routes(http::Router& router, RouteContext& ctx);
void add_test_route(http::Router& router, RouteContext& ctx);
void add_record_routes(http::Router& router, RouteContext& ctx);

}  // namespace dm::dispatcher
