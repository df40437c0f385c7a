// DevEUIs that sent events without being registered (ingest's policy `record`): register one
// with a click (the device page opens; its name comes from ChirpStack's).
import { useState } from "react";
import { get, post } from "../../lib/api.js";
import { ago, dateTime } from "../../lib/format.js";
import { useAsync } from "../../lib/hooks.js";
import { navigate } from "../../lib/router.js";
import { DataTable } from "../../components/DataTable.jsx";
import { Link } from "../../components/Link.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { useToast } from "../../components/Toasts.jsx";

function RegisterButton({ unknown }) {
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  return (
    <span className="row-actions">
      <button
        type="button"
        className="primary"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            const device = await post("/devices", { dev_eui: unknown.dev_eui, name: unknown.device_name || unknown.dev_eui });
            navigate(`/devices/${device.id}`);
          } catch (x) {
            toast(x.message, "error");
            setBusy(false);
          }
        }}
      >
        Register
      </button>
      <Link to={`/devices/new?dev_eui=${unknown.dev_eui}&name=${encodeURIComponent(unknown.device_name || "")}`}>with details…</Link>
    </span>
  );
}

export function UnknownDevices() {
  const list = useAsync(() => get("/ingest/unknown-devices?limit=1000"), []);
  return (
    <>
      <PageHeader
        title="Unknown devices"
        sub="Devices that sent events but are not registered. Ingest records them when INGEST_UNKNOWN_DEVICE_POLICY=record (the default, reject, answers ChirpStack 404 and keeps nothing)."
      />
      <DataTable
        label="Unknown devices"
        rowKey="dev_eui"
        columns={[
          { key: "dev_eui", label: "DevEUI", className: "mono" },
          { key: "device_name", label: "Name in ChirpStack", render: (u) => u.device_name || "—" },
          { key: "events", label: "Events" },
          { key: "first_seen_at", label: "First seen", render: (u) => dateTime(u.first_seen_at) },
          { key: "last_seen_at", label: "Last seen", render: (u) => ago(u.last_seen_at) },
          { key: "actions", label: "Actions", render: (u) => <RegisterButton unknown={u} /> },
        ]}
        rows={list.data}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        empty="No unknown devices."
      />
    </>
  );
}
