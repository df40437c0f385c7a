#pragma once
// Requests to other services' routes over NATS (dm.rpc.<service>), for the rare calls that are
// not worth a cache: one flow for a simulation, one stored uplink for a replay, one function test.
#include <chrono>
#include <string>
#include <string_view>

#include "dm/bus/bus.hpp"
#include "dm/core/result.hpp"

namespace dm::flow_orchestrator {

struct OwnerReply {
  int status = 0;  // the owner's HTTP status (Dm-Status)
  std::string body;
};

// Errc::unavailable when no replica answers in time (or none is subscribed).
Result<OwnerReply> ask_owner(bus::Connection& rpc, std::string_view service, std::string_view method,
                             std::string_view target, std::string_view body, std::chrono::milliseconds timeout);

}  // namespace dm::flow_orchestrator
