#include "simulate.hpp"

#include <algorithm>
#include <cctype>
#include <future>
#include <limits>

#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "dm/core/strings.hpp"
#include "dm/core/time.hpp"
#include "dm/json/json.hpp"
#include "json_text.hpp"
#include "owners.hpp"
#include "run.hpp"
#include "walk.hpp"

namespace dm::flow_orchestrator {
namespace {

using Clock = std::chrono::steady_clock;

bool is_hex16(const std::string& s) {
  if (s.size() != 16) return false;
  for (unsigned char c : s)
    if (!std::isxdigit(c)) return false;
  return true;
}

// The decoded uplink (an object) and its base64 payload, from whichever shape the body has:
// `data` as an object is the simple one; a device event has `object` and a base64 `data`.
std::pair<std::string, std::optional<std::string>> read_decoded(api::BodyReader& r, bool has_event_type) {
  const json::Value* data = r.raw("data");
  std::string object = "{}";
  std::optional<std::string> payload;
  bool event_shape = r.present("object") || r.present("dedup_id") || has_event_type || (data && data->IsString());
  if (!event_shape) {
    if (!data) r.add_error("data", "Field required: the decoded uplink as an object", "missing");
    if (auto o = r.object_json("data")) object = *o;
    payload = r.string("payload", {.max = 1u << 20, .nullable = true});
  } else {
    if (!r.is_null("object"))
      if (auto o = r.object_json("object")) object = *o;
    payload = r.string("data", {.max = 1u << 20, .nullable = true});
  }
  return {std::move(object), std::move(payload)};
}

// The sample's device from the view, or from the registry when the view has not heard of it
// yet (a device created a moment ago; the view follows change events). Unknown stays null.
Result<std::shared_ptr<const Device>> find_device(bus::Connection& rpc, const View& view, const std::string& dev_eui,
                                                  const std::string& device_id) {
  std::shared_ptr<const Device> device;
  if (!dev_eui.empty())
    device = view.device(dev_eui);
  else if (!device_id.empty())
    device = view.device_by_id(device_id);
  if (device || (dev_eui.empty() && !api::is_uuid(device_id))) return device;
  const std::string target =
      dev_eui.empty() ? "/internal/v1/devices/" + device_id : "/internal/v1/devices/by-eui/" + dev_eui;
  DM_ASSIGN_OR_RETURN(auto found, ask_owner(rpc, "registry", "GET", target, "", std::chrono::seconds(5)));
  if (found.status == 404) return device;
  if (found.status != 200)
    return Error(Errc::unavailable, "registry answered " + std::to_string(found.status) + " for the device");
  DM_ASSIGN_OR_RETURN(auto list, parse_devices("[" + found.body + "]"));
  if (!list.empty()) device = std::make_shared<const Device>(std::move(list.front()));
  return device;
}

// A test-route answer as a result of the runner's batch answer, so the walker reads it as it
// reads a run's. What the route says of itself (404, another status, a result `unavailable`)
// is an error of the step here: a simulation shows it rather than waiting for a retry.
std::string result_of(const OwnerReply& reply, double measured_ms) {
  json::Writer w;
  w.start_object();
  auto doc = json::parse(reply.body, {.max_bytes = 64u << 20, .max_depth = 128});
  if (reply.status != 200 || !doc || !doc->IsObject()) {
    std::string error = "function not found";
    if (reply.status != 404) {
      error = "function runner answered " + std::to_string(reply.status);
      if (doc && doc->IsObject() && !string_of(*doc, "detail").empty()) error += ": " + string_of(*doc, "detail");
    }
    w.field("status", "error").field("duration_ms", measured_ms);
    w.key("error").start_object().field("message", error).end_object();
    return w.end_object().take();
  }
  std::string status = string_of(*doc, "status");
  w.field("status", status == "unavailable" ? std::string("error") : status);
  const auto* d = json::find(*doc, "duration_ms");
  w.field("duration_ms", d && d->IsNumber() ? d->GetDouble() : measured_ms);
  for (const char* key : {"output", "logs", "error"})
    if (const auto* v = json::find(*doc, key)) w.key(key).value(*v);
  return w.end_object().take();
}

// Functions through the runner's test route (POST /api/v1/functions/{id}/test), one after
// another: it records no function history and leaves the function's status alone.
class TestRouteCalls final : public FunctionCalls {
 public:
  TestRouteCalls(bus::Connection& rpc, int function_timeout_ms)
      : rpc_(rpc), timeout_ms_(std::min(function_timeout_ms, 5000)) {}  // the test route's ceiling
  // No limit of its own: an input too large for a request is the route's failure (503), as it was.
  std::size_t max_payload() const override { return std::numeric_limits<std::size_t>::max(); }
  std::future<std::vector<Result<RunnerReply>>> send(const std::vector<FunctionRequest>& requests) override {
    std::vector<Result<RunnerReply>> answers;
    for (const auto& request : requests) answers.push_back(run(request));
    std::promise<std::vector<Result<RunnerReply>>> done;
    done.set_value(std::move(answers));
    return done.get_future();
  }
  // Why the runner could not be asked, after the first request that got no answer: the
  // simulation answers 503 and runs nothing more.
  const std::optional<std::string>& unavailable() const { return unavailable_; }

 private:
  Result<RunnerReply> run(const FunctionRequest& request) {
    std::string results;
    for (const Execution& e : request.executions) {
      if (unavailable_) return Error(Errc::unavailable, *unavailable_);
      json::Writer body;
      body.start_object().key("input").raw(*e.input).key("parameters").raw(e.node->parameters);
      body.field("timeout_ms", timeout_ms_).end_object();
      auto t0 = Clock::now();
      auto reply = ask_owner(rpc_, "function-runner", "POST", "/api/v1/functions/" + e.node->entity_id + "/test",
                             body.view(), std::chrono::milliseconds(timeout_ms_) + std::chrono::seconds(2));
      if (!reply) {
        unavailable_ = reply.error().message;
        return reply.take_error();
      }
      if (!results.empty()) results += ',';
      results += result_of(*reply, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return RunnerReply{std::nullopt, "{\"results\":[" + results + "]}"};
  }

  bus::Connection& rpc_;
  int timeout_ms_;
  std::optional<std::string> unavailable_;
};

// Integrations and storages are not called in a simulation: each step shows what it would
// have received, and the nodes after it get the same message.
class SkippedJobs final : public JobQueue {
 public:
  std::size_t max_payload() const override { return std::numeric_limits<std::size_t>::max(); }
  std::vector<Result<Queued>> queue(const std::vector<DeliveryJob>& jobs) override {
    return std::vector<Result<Queued>>(jobs.size(), Queued::skipped);
  }
};

std::string result_json(const Flow& flow, const std::string& dev_eui, const RunJob& job) {
  const Run& run = job.run;
  json::Writer w;
  w.start_object()
      .field("flow_id", flow.id)
      .field("flow_version", flow.version)
      .field("simulation", true)
      .field("trigger_node", run.trigger_node)
      .field_or_null("dev_eui", null_if_empty(dev_eui))
      .field("status", run.status)
      .key("path")
      .start_array();
  for (std::size_t i = 0; i < run.path.size(); ++i) {
    w.start_object();
    write_step(w, run.path[i]);
    w.key("output").raw(job.outputs[i].output).key("logs").raw(job.outputs[i].logs).end_object();
  }
  w.end_array().field("duration_ms", run.duration_ms).end_object();
  return w.take();
}

http::Response simulate(bus::Connection& rpc, const View& view, const SimulateOptions& options,
                        const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return http::Response::error(404, "Flow not found");
  auto read = read_sample(req.body);
  if (read.error) return *read.error;
  auto found = ask_owner(rpc, "registry", "GET", "/internal/v1/flows/" + id, "", std::chrono::seconds(5));
  if (!found) return http::Response::error(503, "Flow definitions are unavailable: " + found.error().message);
  if (found->status == 404) return http::Response::error(404, "Flow not found");
  if (found->status != 200) return http::Response::error(503, "registry answered " + std::to_string(found->status));
  auto flow = parse_flow(found->body);
  if (!flow) {
    log::error("flow from the registry unreadable", {{"flow", id}, {"error", flow.error().message}});
    return http::Response::error(500, "Internal Server Error");
  }

  Sample& sample = *read.sample;
  auto found_device = find_device(rpc, view, sample.dev_eui, sample.device_id);
  if (!found_device) return http::Response::error(503, "Device registry unavailable: " + found_device.error().message);
  std::shared_ptr<const Device> device = std::move(found_device).value();
  if (!device && sample.dev_eui.empty() && !sample.device_id.empty())
    return http::Response::error(404, "Device not found: " + sample.device_id);
  auto trigger = pick_trigger(**flow, device.get(), sample.device_id);
  if (!trigger) return api::validation_error({"path", "id"}, "The flow has no trigger node", "value_error");

  auto event = json::parse(sample.event, {.max_bytes = 16u << 20, .max_depth = 128});
  if (!event) return http::Response::error(500, "Internal Server Error");  // we wrote it
  if (device && sample.dev_eui.empty()) {
    sample.dev_eui = device->dev_eui;
    (*event)["dev_eui"].SetString(device->dev_eui.c_str(), static_cast<rapidjson::SizeType>(device->dev_eui.size()),
                                  event->GetAllocator());
  }
  Uplink uplink{sample.dev_eui, device ? device->id : sample.device_id, "simulation",
                build_message(*event, device.get())};
  std::vector<RunJob> jobs(1);
  jobs[0].uplink = &uplink;
  jobs[0].flow = *flow;
  jobs[0].trigger = *trigger;
  TestRouteCalls calls(rpc, options.function_timeout_ms);
  SkippedJobs skipped;
  walk(jobs,
       {.function_timeout_ms = options.function_timeout_ms,
        .max_depth = options.max_depth,
        .outputs = true,
        .node_order = true},
       calls, skipped);
  if (calls.unavailable()) {
    auto r = http::Response::error(503, "Function runner unavailable: " + *calls.unavailable());
    r.headers.set("Retry-After", "2");
    return r;
  }
  return http::Response::json(200, result_json(**flow, sample.dev_eui, jobs[0]));
}

}  // namespace

SampleRead read_sample(std::string_view text) {
  SampleRead out;
  http::Request req;
  req.body = std::string(text);
  auto body = api::parse_body(req, 1u << 20);
  if (body.error) {
    out.error = std::move(body.error);
    return out;
  }
  const json::Value& doc = body.doc;
  api::BodyReader r(doc);
  auto dev_eui = r.string("dev_eui", {.nullable = true});
  if (dev_eui && !is_hex16(*dev_eui)) r.add_error("dev_eui", "DevEUI must be 16 hexadecimal digits", "value_error");
  auto device_id = r.string("device_id", {.max = 128, .nullable = true});
  auto device_name = r.string("device_name", {.max = 1000, .nullable = true});
  auto event_type = r.string("event_type", {.nullable = true});
  if (event_type && *event_type != "up")
    r.add_error("event_type", "Only uplinks (up) run through flows", "value_error");
  auto time = r.string("time", {.max = 64, .nullable = true});
  if (time && !parse_rfc3339(*time)) r.add_error("time", "Input should be an RFC 3339 time", "datetime_parsing");
  auto f_port = r.integer("f_port", {.min = 0, .max = 255, .nullable = true});
  auto f_cnt = r.integer("f_cnt", {.min = 0, .nullable = true});
  auto rssi = r.number("rssi", {.nullable = true});
  auto snr = r.number("snr", {.nullable = true});

  auto [object, payload] = read_decoded(r, event_type.has_value());
  if (!r.ok()) {
    out.error = r.response();
    return out;
  }

  Sample s;
  s.dev_eui = dev_eui ? lower(*dev_eui) : std::string();
  s.device_id = device_id.value_or("");
  json::Writer w;
  w.start_object().field("event_type", "up").field("dev_eui", s.dev_eui).field("dedup_id", "simulation");
  if (device_id) w.field("device_id", *device_id);
  if (device_name) w.field("device_name", *device_name);
  w.field("time", time.value_or(format_rfc3339(now())));
  if (f_port) w.field("f_port", *f_port);
  if (f_cnt) w.field("f_cnt", *f_cnt);
  if (rssi) w.field("rssi", *rssi);
  if (snr) w.field("snr", *snr);
  if (const auto* g = r.raw("gateway_count"); g && g->IsInt64()) w.field("gateway_count", g->GetInt64());
  w.key("object").raw(object);
  if (payload) w.field("data", *payload);
  w.end_object();
  s.event = w.take();
  out.sample = std::move(s);
  return out;
}

std::optional<std::size_t> pick_trigger(const Flow& flow, const Device* device, const std::string& device_id) {
  std::optional<std::size_t> first;
  const std::string& id = device ? device->id : device_id;
  for (std::size_t i = 0; i < flow.nodes.size(); ++i) {
    const Node& n = flow.nodes[i];
    if (n.type != "device" && n.type != "label") continue;
    if (!first) first = i;
    if (n.type == "device" && !id.empty() && n.entity_id == id) return i;
    if (n.type == "label" && device)
      for (const auto& l : device->label_ids)
        if (l == n.entity_id) return i;
  }
  return first;
}

void add_simulate_route(http::Router& router, bus::Connection& rpc, const View& view, SimulateOptions options) {
  router.add_sync("POST", "/api/v1/flows/{id}/simulate",
                  [&rpc, &view, options](const http::Request& req) { return simulate(rpc, view, options, req); });
}

}  // namespace dm::flow_orchestrator
