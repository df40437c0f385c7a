#include "engine.hpp"

#include "dm/core/time.hpp"

namespace dm::flow_orchestrator {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string str(const json::Value& o, const char* key) {
  const auto* v = json::find(o, key);
  return v && v->IsString() ? std::string(json::view(*v)) : std::string();
}

// Standard base64 (padding optional); invalid characters end the decoding.
std::vector<unsigned char> base64_decode(std::string_view in) {
  std::vector<unsigned char> out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else break;  // '=' or garbage
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

void copy_or_null(json::Writer& w, const json::Value& event, const char* from, const char* to) {
  w.key(to);
  const auto* v = json::find(event, from);
  if (v) w.value(*v);
  else w.null();
}

}  // namespace

std::string run_key(const std::string& flow_id, const std::string& dedup_id) { return flow_id + ":up:" + dedup_id; }

std::string build_message(const json::Value& event, const Device* device) {
  json::Writer w;
  w.start_object().field("dev_eui", str(event, "dev_eui"));
  w.key("device").start_object();
  if (device) w.field("id", device->id).field("name", device->name).key("labels").raw(device->labels_json);
  else {
    std::string id = str(event, "device_id");
    w.key("id");
    if (id.empty()) w.null();
    else w.string(id);
    w.field("name", str(event, "device_name")).key("labels").start_array().end_array();
  }
  w.end_object();
  w.field("event", "up");
  std::string time = str(event, "time");
  w.field("time", time.empty() ? str(event, "received_at") : time);
  copy_or_null(w, event, "f_port", "f_port");
  copy_or_null(w, event, "f_cnt", "f_cnt");
  w.key("data");
  if (const auto* obj = json::find(event, "object"); obj && obj->IsObject()) w.value(*obj);
  else w.start_object().end_object();
  std::string b64 = str(event, "data");
  w.key("payload").start_object().field("base64", b64).key("bytes").start_array();
  for (unsigned char b : base64_decode(b64)) w.integer(b);
  w.end_array().end_object();
  w.key("rx").start_object();
  copy_or_null(w, event, "rssi", "rssi");
  copy_or_null(w, event, "snr", "snr");
  copy_or_null(w, event, "gateway_count", "gateways");
  w.end_object();
  w.end_object();
  return w.take();
}

Result<Uplink> read_uplink(std::string_view event_json, const View& view) {
  DM_ASSIGN_OR_RETURN(auto doc, json::parse(event_json, {.max_bytes = 16u << 20, .max_depth = 128}));
  if (!doc.IsObject()) return Error(Errc::invalid_argument, "event is not a JSON object");
  Uplink u;
  u.dev_eui = str(doc, "dev_eui");
  u.dedup_id = str(doc, "dedup_id");
  if (u.dev_eui.empty() || u.dedup_id.empty()) return Error(Errc::invalid_argument, "event without dev_eui or dedup_id");
  auto device = view.device(u.dev_eui);
  u.device_id = device ? device->id : str(doc, "device_id");
  u.message = build_message(doc, device.get());
  return u;
}

std::string run_status(int ok, int filtered, int failed) {
  if (failed == 0) return ok == 0 && filtered > 0 ? "filtered" : "success";
  return ok + filtered == 0 ? "error" : "partial_success";
}

std::string path_json(const std::vector<Step>& path) {
  json::Writer w;
  w.start_array();
  for (const auto& s : path) {
    w.start_object().field("node_id", s.node_id).field("type", s.type).key("entity_id");
    if (s.entity_id.empty()) w.null();
    else w.string(s.entity_id);
    w.field("status", s.status).field("duration_ms", s.duration_ms).field_or_null("error", s.error).end_object();
  }
  w.end_array();
  return w.take();
}

std::string completed_json(const Run& run) {
  json::Writer w;
  w.start_object()
      .field("flow_id", run.flow_id)
      .field("flow_version", run.flow_version)
      .field("run_id", run.run_key)
      .field("run_key", run.run_key)
      .field("dedup_id", run.dedup_id)
      .field("dev_eui", run.dev_eui)
      .field("status", run.status)
      .key("path")
      .raw(path_json(run.path))
      .field("duration_ms", run.duration_ms)
      .field("replay", run.replay)
      .field("at", run.at)
      .end_object();
  return w.take();
}

struct Engine::Walk {
  const Uplink& uplink;
  const Flow& flow;
  Run& run;
  int ok = 0, filtered = 0, failed = 0;
};

Result<Run> Engine::run(const Uplink& uplink, const Flow& flow, std::size_t trigger) {
  auto t0 = Clock::now();
  Run r;
  r.flow_id = flow.id;
  r.flow_version = flow.version < 1 ? 1 : flow.version;
  r.dedup_id = uplink.dedup_id;
  r.run_key = run_key(flow.id, uplink.dedup_id);
  r.dev_eui = uplink.dev_eui;
  r.device_id = uplink.device_id;
  const Node& t = flow.nodes.at(trigger);
  r.trigger_node = t.id;
  r.path.push_back({t.id, t.type, t.entity_id, "success", 0, std::nullopt});
  Walk walk{uplink, flow, r};
  for (std::size_t next : t.next) DM_TRY(visit(walk, next, uplink.message, 2));
  r.status = run_status(walk.ok, walk.filtered, walk.failed);
  r.duration_ms = ms_since(t0);
  r.at = format_rfc3339(now());
  return r;
}

// Depth counts nodes along the path, the trigger being 1; the registry refuses deeper graphs,
// so the limit only guards against a view that was never checked.
Result<void> Engine::visit(Walk& walk, std::size_t index, const std::string& message, std::size_t depth) {
  const Node& node = walk.flow.nodes.at(index);
  if (depth > options_.max_depth) {
    walk.run.path.push_back({node.id, node.type, node.entity_id, "error", 0, "depth limit exceeded"});
    ++walk.failed;
    return ok();
  }
  if (node.type == "function") return call_function(walk, node, message, depth);
  if (node.type == "integration" || node.type == "storage") return dispatch(walk, node, message, depth);
  walk.run.path.push_back({node.id, node.type, node.entity_id, "skipped", 0, "not a node that can follow an edge"});
  ++walk.failed;
  return ok();
}

Result<void> Engine::call_function(Walk& walk, const Node& node, const std::string& message, std::size_t depth) {
  auto t0 = Clock::now();
  json::Writer w;
  w.start_object().key("executions").start_array().start_object();
  w.field("id", walk.run.run_key + ":" + node.id)
      .field("function_id", node.entity_id)
      .field("version", std::int64_t{1})  // the runner runs its newest cached version at or above it
      .key("input")
      .raw(message)
      .key("parameters")
      .raw(node.parameters)
      .field("timeout_ms", options_.function_timeout_ms);
  w.key("context")
      .start_object()
      .field("flow_id", walk.flow.id)
      .field("flow_run_id", walk.run.run_key)
      .field("node_id", node.id)
      .field("dev_eui", walk.uplink.dev_eui)
      .field("replay", walk.run.replay)
      .end_object();
  w.end_object().end_array().end_object();
  auto timeout = std::chrono::milliseconds(options_.function_timeout_ms) + options_.request_margin;
  auto reply = rpc_.request("dm.fn.exec", w.view(), timeout, {{"Content-Type", "application/json"}});
  // No runner, or none answering in time: not the function's fault, the uplink comes back later.
  if (!reply) return Error(reply.error().code, "function runner: " + reply.error().message);
  Step step{node.id, node.type, node.entity_id, "error", 0, std::nullopt};
  auto fail = [&](std::string why) {
    step.error = std::move(why);
    step.duration_ms = ms_since(t0);
    walk.run.path.push_back(std::move(step));
    ++walk.failed;
    return ok();
  };
  if (auto st = reply->header("Dm-Status"); st && *st != "200") return fail("function runner answered " + *st + ": " + reply->data);
  auto doc = json::parse(reply->data, {.max_bytes = 64u << 20, .max_depth = 128});
  const json::Value* results = doc && doc->IsObject() ? json::find(*doc, "results") : nullptr;
  if (!results || !results->IsArray() || results->Empty() || !(*results)[0].IsObject())
    return fail("function runner reply unreadable");
  const auto& res = (*results)[0];
  step.status = str(res, "status");
  if (const auto* e = json::find(res, "error"); e && e->IsObject()) step.error = str(*e, "message");
  step.duration_ms = ms_since(t0);
  const auto* output = json::find(res, "output");
  if (step.status == "success" && output && output->IsObject()) {
    std::string next = json::to_string(*output);
    walk.run.path.push_back(std::move(step));
    if (node.next.empty()) ++walk.ok;
    for (std::size_t n : node.next) DM_TRY(visit(walk, n, next, depth + 1));
    return ok();
  }
  if (step.status == "success" || step.status == "filtered") {
    step.status = "filtered";
    walk.run.path.push_back(std::move(step));
    ++walk.filtered;
    return ok();
  }
  if (step.status != "timeout") step.status = "error";
  if (!step.error) step.error = "function failed";
  walk.run.path.push_back(std::move(step));
  ++walk.failed;
  return ok();
}

Result<void> Engine::dispatch(Walk& walk, const Node& node, const std::string& message, std::size_t depth) {
  auto t0 = Clock::now();
  std::string job_id = walk.run.run_key + ":" + node.id;
  json::Writer w;
  w.start_object()
      .field("job_id", job_id)
      .field("kind", node.type)
      .field("target_id", node.entity_id)
      .field("flow_id", walk.flow.id)
      .field("flow_run_id", walk.run.run_key)
      .field("node_id", node.id)
      .field("dev_eui", walk.uplink.dev_eui)
      .key("message")
      .raw(message)
      .field("created_at", format_rfc3339(now()))
      .end_object();
  // Durably queued = done for the flow; the dispatcher de-duplicates on job_id.
  auto ack = js_.jetstream().publish("dm.work.dispatch." + node.entity_id, w.view(), job_id, std::chrono::seconds(5));
  if (!ack) return Error(ack.error().code, "delivery job not queued: " + ack.error().message);
  walk.run.path.push_back({node.id, node.type, node.entity_id, "dispatched", ms_since(t0), std::nullopt});
  if (node.next.empty()) ++walk.ok;
  for (std::size_t n : node.next) DM_TRY(visit(walk, n, message, depth + 1));
  return ok();
}

}  // namespace dm::flow_orchestrator
