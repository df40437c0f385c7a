#include "run.hpp"

#include "dm/core/encoding.hpp"
#include "json_text.hpp"

namespace dm::flow_orchestrator {
namespace {

void copy_or_null(json::Writer& w, const json::Value& event, const char* from, const char* to) {
  w.key(to);
  const auto* v = json::find(event, from);
  if (v)
    w.value(*v);
  else
    w.null();
}

}  // namespace

std::string run_key(const std::string& flow_id, const std::string& dedup_id) { return flow_id + ":up:" + dedup_id; }

std::string build_message(const json::Value& event, const Device* device) {
  json::Writer w;
  w.start_object().field("dev_eui", string_of(event, "dev_eui"));
  w.key("device").start_object();
  if (device)
    w.field("id", device->id).field("name", device->name).key("labels").raw(device->labels_json);
  else
    w.field_or_null("id", null_if_empty(string_of(event, "device_id")))
        .field("name", string_of(event, "device_name"))
        .key("labels")
        .start_array()
        .end_array();
  w.end_object();
  w.field("event", "up");
  std::string time = string_of(event, "time");
  w.field("time", time.empty() ? string_of(event, "received_at") : time);
  copy_or_null(w, event, "f_port", "f_port");
  copy_or_null(w, event, "f_cnt", "f_cnt");
  w.key("data");
  if (const auto* obj = json::find(event, "object"); obj && obj->IsObject())
    w.value(*obj);
  else
    w.start_object().end_object();
  std::string b64 = string_of(event, "data");
  w.key("payload").start_object().field("base64", b64).key("bytes").start_array();
  // Ingest stored valid base64 (it re-encodes what ChirpStack sent); anything else has no bytes.
  for (unsigned char b : base64_decode(b64).value_or(std::string())) w.integer(b);
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
  // The message functions see is built from the normalised fields; the original body and
  // the radio metadata are most of an event's bytes and are left out of the document.
  static constexpr std::string_view kUnused[] = {"raw", "rx_info", "tx_info"};
  DM_ASSIGN_OR_RETURN(auto doc,
                      json::parse(event_json, {.max_bytes = 16u << 20, .max_depth = 128, .skip_members = kUnused}));
  if (!doc.IsObject()) return Error(Errc::invalid_argument, "event is not a JSON object");
  Uplink u;
  u.dev_eui = string_of(doc, "dev_eui");
  u.dedup_id = string_of(doc, "dedup_id");
  if (u.dev_eui.empty() || u.dedup_id.empty())
    return Error(Errc::invalid_argument, "event without dev_eui or dedup_id");
  auto device = view.device(u.dev_eui);
  u.device_id = device ? device->id : string_of(doc, "device_id");
  u.message = build_message(doc, device.get());
  return u;
}

std::string run_status(int ok, int filtered, int failed) {
  if (failed == 0) return ok == 0 && filtered > 0 ? "filtered" : "success";
  return ok + filtered == 0 ? "error" : "partial_success";
}

void write_step(json::Writer& w, const Step& s) {
  w.field("node_id", s.node_id)
      .field("type", s.type)
      .field_or_null("entity_id", null_if_empty(s.entity_id))
      .field("status", s.status)
      .field("duration_ms", s.duration_ms)
      .field_or_null("error", s.error);
}

std::string path_json(const std::vector<Step>& path) {
  json::Writer w;
  w.start_array();
  for (const auto& s : path) {
    w.start_object();
    write_step(w, s);
    w.end_object();
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

}  // namespace dm::flow_orchestrator
