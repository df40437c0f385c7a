#pragma once
// The device event (proto/schemas/device-event), as its consumers read it. Ingest produces it
// (services/ingest/chirpstack.cpp normalises each ChirpStack webhook straight into its JSON, a
// shape its own tests check against the schema); the consumers — ingest's history writer, the
// flow orchestrator — read the fields below and leave the rest of the message as it is.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dm/contract/batch.hpp"
#include "dm/contract/words.hpp"
#include "dm/core/result.hpp"

namespace dm::contract {

struct DeviceEvent {
  EventType event_type = EventType::up;
  std::string dev_eui;
  std::optional<std::string> device_id;  // null: the DevEUI is not registered
  std::string dedup_id;
  std::string received_at;          // when ingest accepted the webhook (RFC 3339)
  std::optional<std::string> time;  // the event's own time, if any
  std::optional<std::string> device_name;
  // Uplinks (other events may carry some too).
  std::optional<std::int64_t> f_port, f_cnt, gateway_count;
  std::optional<std::string> data;    // FRMPayload, standard base64
  std::optional<std::string> object;  // the payload decoded by ChirpStack's codec: JSON object text
  std::optional<double> rssi, snr;    // best over all receiving gateways
  bool operator==(const DeviceEvent&) const = default;
};

// Reads the fields above, refusing what the schema refuses of them; a nullable one that is
// absent reads as null (an event may have been written by an older ingest). The original body,
// the radio metadata and the other event types' fields are checked as JSON only, not built:
// they are most of an event's bytes and nobody reads them here.
Result<DeviceEvent> decode_device_event(std::string_view json);

}  // namespace dm::contract

namespace dm::contract {

// ---- device-event-batch: dm.events.<event>, stream DM_DEVICE_EVENTS, Nats-Msg-Id = batch id.
// Ingest stores the events of one type that arrive within its linger as one stream message
// (batch.hpp): each entry is named by its event's tap subject (dm.device.<dev_eui>.<event>)
// and holds the device-event JSON. An entry that is no device event is its consumer's to
// dead-letter, alone.

}  // namespace dm::contract
