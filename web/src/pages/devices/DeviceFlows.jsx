// The flows this device's uplinks trigger (a trigger naming the device or one of its labels)
// and its latest flow runs.
import { query, request } from "../../lib/api.js";
import { dateTime, duration } from "../../lib/format.js";
import { useAll, useAsync } from "../../lib/hooks.js";
import { entityOf } from "../flows/graph.js";
import { DataTable } from "../../components/DataTable.jsx";
import { Link } from "../../components/Link.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

function triggersOf(flow, device) {
  const labelIds = new Set(device.labels.map((l) => l.id));
  return (flow.nodes || []).filter((n) => {
    const { type, entityId } = entityOf(n);
    return (type === "device" && entityId === device.id) || (type === "label" && labelIds.has(entityId));
  });
}

export function DeviceFlows({ device, version }) {
  const flows = useAll("flows");
  const runs = useAsync(
    () => request("GET", `/flows/history${query({ dev_eui: device.dev_eui, limit: 20 })}`).then((r) => r.data),
    [device.dev_eui, version],
  );
  const names = Object.fromEntries((flows.data || []).map((f) => [f.id, f.name]));
  const triggered = (flows.data || [])
    .map((f) => ({ flow: f, via: triggersOf(f, device) }))
    .filter((x) => x.via.length)
    .map(({ flow, via }) => ({
      id: flow.id,
      name: flow.name,
      enabled: flow.enabled,
      via: via.map((n) => (entityOf(n).type === "device" ? "this device" : device.labels.find((l) => l.id === entityOf(n).entityId)?.name)).join(", "),
    }));
  return (
    <>
      <h2>Flows it triggers</h2>
      <DataTable
        label="Flows this device triggers"
        columns={[
          { key: "name", label: "Flow", render: (f) => <Link to={`/flows/${f.id}`}>{f.name}</Link> },
          { key: "enabled", label: "State", render: (f) => <StatusBadge status={f.enabled ? "enabled" : "disabled"} /> },
          { key: "via", label: "Through" },
        ]}
        rows={flows.data && triggered}
        loading={flows.loading}
        error={flows.error}
        onRetry={flows.reload}
        empty={<>No flow starts from this device or its labels. <Link to="/flows">Flows</Link></>}
      />
      <h2>Latest runs</h2>
      <DataTable
        label="Latest flow runs of this device"
        columns={[
          { key: "created_at", label: "When", render: (r) => dateTime(r.created_at) },
          { key: "flow", label: "Flow", render: (r) => <Link to={`/flows/${r.flow_id}?tab=runs&run=${r.id}`}>{names[r.flow_id] || r.flow_id}</Link> },
          { key: "status", label: "Status", render: (r) => <StatusBadge status={r.status} /> },
          { key: "replay", label: "Replay", render: (r) => (r.replay ? "yes" : "") },
          { key: "duration_ms", label: "Took", render: (r) => duration(r.duration_ms) },
        ]}
        rows={runs.data}
        loading={runs.loading}
        error={runs.error}
        onRetry={runs.reload}
        empty="No runs yet."
      />
    </>
  );
}
