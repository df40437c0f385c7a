#include "routes.hpp"

namespace dm::gateway {

std::vector<RouteSpec> device_routes() {
  using A = Access;
  return {
      // Devices
      {"GET",
       "/api/v1/devices",
       "registry",
       "devices",
       "List devices",
       A::viewer,
       nullptr,
       "Device[]",
       200,
       {kSkip,
        kLimit,
        kSort,
        kSearch,
        {"status", "string", "never_seen, online, offline or maintenance"},
        {"label", "string", "Label id or name"}}},
      {"POST", "/api/v1/devices", "registry", "devices", "Create a device", A::editor, "DeviceCreate", "Device", 201},
      {"GET",
       "/api/v1/devices/history",
       "ingest",
       "devices",
       "Event history of all devices",
       A::viewer,
       nullptr,
       "DeviceEvent[]",
       200,
       {kSkip, kLimit, kEventType, kFrom, kTo}},
      {"GET", "/api/v1/devices/{id}", "registry", "devices", "Get a device", A::viewer, nullptr, "Device"},
      {"PUT", "/api/v1/devices/{id}", "registry", "devices", "Update a device (partial bodies accepted)", A::editor,
       "DeviceUpdate", "Device"},
      {"PATCH", "/api/v1/devices/{id}", "registry", "devices", "Update some fields of a device", A::editor,
       "DeviceUpdate", "Device"},
      {"DELETE", "/api/v1/devices/{id}", "registry", "devices", "Delete a device (409 if an enabled flow uses it)",
       A::editor, nullptr, nullptr, 204},
      {"GET",
       "/api/v1/devices/{id}/history",
       "ingest",
       "devices",
       "Event history of one device",
       A::viewer,
       nullptr,
       "DeviceEvent[]",
       200,
       {kSkip, kLimit, kEventType, kFrom, kTo}},
      {"GET", "/api/v1/devices/{id}/labels", "registry", "devices", "Labels of a device", A::viewer, nullptr,
       "Label[]"},
      {"PUT", "/api/v1/devices/{id}/labels", "registry", "devices", "Replace the labels of a device", A::editor,
       "LabelIds", "Label[]"},
      // Labels
      {"GET",
       "/api/v1/labels",
       "registry",
       "labels",
       "List labels",
       A::viewer,
       nullptr,
       "Label[]",
       200,
       {kSkip, kLimit, kSort, kSearch}},
      {"POST", "/api/v1/labels", "registry", "labels", "Create a label", A::editor, "LabelCreate", "Label", 201},
      {"GET", "/api/v1/labels/{id}", "registry", "labels", "Get a label", A::viewer, nullptr, "Label"},
      {"PUT", "/api/v1/labels/{id}", "registry", "labels", "Update a label", A::editor, "LabelUpdate", "Label"},
      {"PATCH", "/api/v1/labels/{id}", "registry", "labels", "Update some fields of a label", A::editor, "LabelUpdate",
       "Label"},
      {"DELETE", "/api/v1/labels/{id}", "registry", "labels", "Delete a label (409 if an enabled flow uses it)",
       A::editor, nullptr, nullptr, 204},
      {"POST", "/api/v1/devices/{id}/history/{history_id}/replay", "flow-orchestrator", "devices",
       "Run a stored uplink again through the device's current flows (a new run, marked as replay)", A::editor, nullptr,
       "FlowRun[]"},
      // ChirpStack's HTTP integration posts here; it authenticates with the ingest secret, not a user.
      {"POST",
       "/api/v1/ingest/chirpstack",
       "ingest",
       "ingest",
       "ChirpStack webhook: accept one device event (durable before 2xx)",
       A::public_,
       "ChirpStackEvent",
       "IngestAccepted",
       200,
       {{"event", "string", "up, join, status, ack, txack, log or location (inferred when missing)"}}},
      {"GET",
       "/api/v1/ingest/unknown-devices",
       "ingest",
       "ingest",
       "Events from devices that are not registered (when UNKNOWN_DEVICE_POLICY=record)",
       A::editor,
       nullptr,
       "UnknownDevice[]",
       200,
       {kSkip, kLimit}},
      {"POST", "/api/v1/labels/{id}/devices/{device_id}", "registry", "labels", "Add a device to a label", A::editor,
       nullptr, "Device"},
      {"DELETE", "/api/v1/labels/{id}/devices/{device_id}", "registry", "labels", "Remove a device from a label",
       A::editor, nullptr, nullptr, 204},
  };
}

const std::vector<RouteSpec>& route_table() {
  static const std::vector<RouteSpec> kTable = [] {
    std::vector<RouteSpec> all;
    for (auto part : {device_routes, function_routes, integration_routes, flow_routes, auth_routes, dead_letter_routes,
                      event_routes}) {
      auto routes = part();
      all.insert(all.end(), routes.begin(), routes.end());
    }
    return all;
  }();
  return kTable;
}

const char* access_name(Access a) {
  switch (a) {
    case Access::public_:
      return "public";
    case Access::viewer:
      return "viewer";
    case Access::editor:
      return "editor";
    case Access::admin:
      return "admin";
  }
  return "admin";
}

}  // namespace dm::gateway
