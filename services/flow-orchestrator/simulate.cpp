#include "simulate.hpp"

#include <cctype>
#include <deque>

#include "dm/core/strings.hpp"
#include "dm/api/body.hpp"
#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "dm/core/time.hpp"
#include "dm/json/json.hpp"
#include "engine.hpp"
#include "owners.hpp"

namespace dm::flow_orchestrator {
namespace {

using Clock = std::chrono::steady_clock;

bool is_hex16(const std::string& s) {
  if (s.size() != 16) return false;
  for (unsigned char c : s)
    if (!std::isxdigit(c)) return false;
  return true;
}

std::string str(const json::Value& o, const char* key) {
  const auto* v = json::find(o, key);
  return v && v->IsString() ? std::string(json::view(*v)) : std::string();
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

// One node of the simulated path, with what it produced.
struct SimStep {
  Step step;
  std::string output = "null";  // JSON
  std::string logs = "[]";      // JSON array (functions)
};

struct Walk {
  std::vector<SimStep> path;
  int ok = 0, filtered = 0, failed = 0;
  std::optional<std::string> unavailable;  // the runner could not be asked: the answer is 503
};

// One function node through the runner's test route (no function history is recorded).
void run_function(bus::Connection& rpc, const SimulateOptions& options, const Node& node, const std::string& message,
                  SimStep& s, std::optional<std::string>& next, Walk& walk) {
  int timeout_ms = std::min(options.function_timeout_ms, 5000);  // the test route's ceiling
  json::Writer body;
  body.start_object()
      .key("input")
      .raw(message)
      .key("parameters")
      .raw(node.parameters)
      .field("timeout_ms", timeout_ms)
      .end_object();
  auto t0 = Clock::now();
  auto reply = ask_owner(rpc, "function-runner", "POST", "/api/v1/functions/" + node.entity_id + "/test", body.view(),
                         std::chrono::milliseconds(timeout_ms) + std::chrono::seconds(2));
  s.step.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!reply) {
    walk.unavailable = reply.error().message;
    return;
  }
  s.step.status = "error";
  if (reply->status == 404) {
    s.step.error = "function not found";
    return;
  }
  auto doc = json::parse(reply->body, {.max_bytes = 64u << 20, .max_depth = 128});
  if (reply->status != 200 || !doc || !doc->IsObject()) {
    s.step.error = "function runner answered " + std::to_string(reply->status);
    if (doc && doc->IsObject() && !str(*doc, "detail").empty()) *s.step.error += ": " + str(*doc, "detail");
    return;
  }
  std::string status = str(*doc, "status");
  if (const auto* d = json::find(*doc, "duration_ms"); d && d->IsNumber()) s.step.duration_ms = d->GetDouble();
  if (const auto* l = json::find(*doc, "logs"); l && l->IsArray()) s.logs = json::to_string(*l);
  if (const auto* e = json::find(*doc, "error"); e && e->IsObject()) s.step.error = str(*e, "message");
  const auto* output = json::find(*doc, "output");
  if (status == "success" && output && output->IsObject()) {
    s.step.status = "success";
    s.output = json::to_string(*output);
    next = s.output;
  } else if (status == "success" || status == "filtered") {
    s.step.status = "filtered";
  } else {
    s.step.status = status == "timeout" ? "timeout" : "error";
    if (!s.step.error) s.step.error = "function failed";
  }
}

// Breadth first from the trigger, one node after another (a simulation is not a hot path).
Walk walk_flow(bus::Connection& rpc, const SimulateOptions& options, const Flow& flow, std::size_t trigger,
               const std::string& message) {
  struct Pending {
    std::size_t node;
    std::string message;
    std::size_t depth;
  };
  Walk walk;
  const Node& t = flow.nodes.at(trigger);
  walk.path.push_back({{t.id, t.type, t.entity_id, "success", 0, std::nullopt}, message, "[]"});
  std::deque<Pending> queue;
  for (std::size_t n : t.next) queue.push_back({n, message, 2});
  while (!queue.empty() && !walk.unavailable) {
    Pending p = std::move(queue.front());
    queue.pop_front();
    const Node& node = flow.nodes.at(p.node);
    SimStep s{{node.id, node.type, node.entity_id, "error", 0, std::nullopt}, "null", "[]"};
    std::optional<std::string> next;  // the message for the nodes after this one, if it goes on
    if (p.depth > options.max_depth) {
      s.step.error = "depth limit exceeded";
    } else if (node.type == "function") {
      run_function(rpc, options, node, p.message, s, next, walk);
      if (walk.unavailable) break;
    } else if (node.type == "integration" || node.type == "storage") {
      s.step.status = "skipped";  // not called in a simulation: here is what it would have received
      s.output = p.message;
      next = p.message;
    } else {
      s.step.status = "skipped";
      s.step.error = "not a node that can follow an edge";
    }
    if (next) {
      if (node.next.empty()) ++walk.ok;
      for (std::size_t n : node.next) queue.push_back({n, *next, p.depth + 1});
    } else if (s.step.status == "filtered") {
      ++walk.filtered;
    } else {
      ++walk.failed;
    }
    walk.path.push_back(std::move(s));
  }
  return walk;
}

std::string result_json(const Flow& flow, const Node& trigger, const std::string& dev_eui, const Walk& walk,
                        double duration_ms) {
  json::Writer w;
  w.start_object()
      .field("flow_id", flow.id)
      .field("flow_version", flow.version)
      .field("simulation", true)
      .field("trigger_node", trigger.id)
      .key("dev_eui");
  if (dev_eui.empty())
    w.null();
  else
    w.string(dev_eui);
  w.field("status", run_status(walk.ok, walk.filtered, walk.failed)).key("path").start_array();
  for (const auto& s : walk.path) {
    w.start_object().field("node_id", s.step.node_id).field("type", s.step.type).key("entity_id");
    if (s.step.entity_id.empty())
      w.null();
    else
      w.string(s.step.entity_id);
    w.field("status", s.step.status)
        .field("duration_ms", s.step.duration_ms)
        .field_or_null("error", s.step.error)
        .key("output")
        .raw(s.output)
        .key("logs")
        .raw(s.logs)
        .end_object();
  }
  w.end_array().field("duration_ms", duration_ms).end_object();
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
  std::string message = build_message(*event, device.get());

  auto t0 = Clock::now();
  Walk walk = walk_flow(rpc, options, **flow, *trigger, message);
  if (walk.unavailable) {
    auto r = http::Response::error(503, "Function runner unavailable: " + *walk.unavailable);
    r.headers.set("Retry-After", "2");
    return r;
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return http::Response::json(200, result_json(**flow, (*flow)->nodes[*trigger], sample.dev_eui, walk, ms));
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
