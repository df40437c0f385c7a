#pragma once
// POST /api/v1/flows/{id}/simulate: a sample uplink through one flow (enabled or not), for
// trying a flow before switching it on. Functions run for real in the runner, through its
// test route (POST /api/v1/functions/{id}/test), which records no function history;
// integrations and storages are not called: they are reported `skipped` with the message they
// would have received. Nothing is recorded, no event is published, no job is queued.
#include <chrono>
#include <optional>
#include <string>

#include "dm/bus/bus.hpp"
#include "dm/http/router.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {

// A simulate body, checked. Two shapes are accepted:
//  - simple: {dev_eui?, device_id?, data: {decoded fields}, payload?: base64, f_port?, f_cnt?,
//    time?, rssi?, snr?, device_name?}
//  - a normalised device event (proto/schemas/device-event), recognised by `object`, `event_type`
//    or `dedup_id`, or `data` being a base64 string: `object` is the decoded uplink.
struct Sample {
  std::string event;  // device-event shaped JSON object (build_message reads it)
  std::string dev_eui;
  std::string device_id;
};
struct SampleRead {
  std::optional<Sample> sample;
  std::optional<http::Response> error;  // 422 with FastAPI-style details
};
SampleRead read_sample(std::string_view body);

// The node a simulation starts from: the trigger naming the device or one of its labels,
// else the flow's first trigger node; nullopt when the flow has none.
std::optional<std::size_t> pick_trigger(const Flow& flow, const Device* device, const std::string& device_id);

struct SimulateOptions {
  int function_timeout_ms = 1000;
  std::size_t max_depth = 64;
};

void add_simulate_route(http::Router& router, bus::Connection& rpc, const View& view, SimulateOptions options);

}  // namespace dm::flow_orchestrator
