#include "dm/contract/device_event.hpp"

#include <utility>

#include "fields.hpp"

namespace dm::contract {

using detail::Fields;
using detail::Need;
using detail::owned;

// The events stay in their stream for days, and an older ingest may have written fewer
// fields: a nullable field consumers read is null when it is absent (the schema's per-type
// presence rules, e.g. an uplink's f_cnt, are left to ingest's own tests).
constexpr Need kAbsentIsNull = Need::optional_nullable;

namespace {

// The uplink fields, as every event may carry them (ingest writes what ChirpStack sent).
Result<void> read_radio(const Fields& f, DeviceEvent& e) {
  DM_ASSIGN_OR_RETURN(e.f_port, f.integer("f_port", kAbsentIsNull, 0, 255));
  DM_ASSIGN_OR_RETURN(e.f_cnt, f.integer("f_cnt", kAbsentIsNull, 0, 4294967295LL));
  DM_ASSIGN_OR_RETURN(auto data, f.text("data", kAbsentIsNull, detail::kBase64));
  DM_ASSIGN_OR_RETURN(e.object, f.object_text("object", kAbsentIsNull));
  DM_ASSIGN_OR_RETURN(e.rssi, f.number("rssi", kAbsentIsNull));
  DM_ASSIGN_OR_RETURN(e.snr, f.number("snr", kAbsentIsNull));
  DM_ASSIGN_OR_RETURN(e.gateway_count, f.integer("gateway_count", Need::optional, 0));
  e.data = owned(data);
  return ok();
}

}  // namespace

Result<DeviceEvent> decode_device_event(std::string_view text) {
  static constexpr std::string_view kUnread[] = {"raw", "rx_info", "tx_info"};
  DM_ASSIGN_OR_RETURN(
      auto doc,
      detail::parse_object(text, {.max_bytes = 16u << 20, .max_depth = 128, .skip_members = kUnread}, "device event"));
  Fields f(doc);
  DeviceEvent e;
  DM_ASSIGN_OR_RETURN(e.event_type, f.word<EventType>("event_type"));
  DM_ASSIGN_OR_RETURN(e.dev_eui, f.text("dev_eui", detail::kDevEui));
  DM_ASSIGN_OR_RETURN(auto device_id, f.text("device_id", kAbsentIsNull, detail::kToken));
  DM_ASSIGN_OR_RETURN(auto dedup_id, f.text("dedup_id", detail::kNonEmpty));
  if (dedup_id.size() > 200) return f.error("dedup_id", "must have at most 200 characters");
  DM_ASSIGN_OR_RETURN(e.received_at, f.text("received_at", detail::kTimestamp));
  DM_ASSIGN_OR_RETURN(auto time, f.text("time", kAbsentIsNull, detail::kTimestamp));
  DM_ASSIGN_OR_RETURN(auto name, f.text("device_name", kAbsentIsNull));
  DM_TRY(read_radio(f, e));
  e.device_id = owned(device_id);
  e.dedup_id = dedup_id;
  e.time = owned(time);
  e.device_name = owned(name);
  return e;
}

}  // namespace dm::contract
