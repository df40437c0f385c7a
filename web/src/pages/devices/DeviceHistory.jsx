// A device's events, newest first: a table (with replay of an uplink through today's flows)
// and a chart of one decoded field the user picks.
import { lazy, Suspense, useMemo, useState } from "react";
import { post, query, request } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { dateTime, numericPaths } from "../../lib/format.js";
import { useAsync, usePage } from "../../lib/hooks.js";
import { Field } from "../../components/Field.jsx";
import { JsonView } from "../../components/JsonView.jsx";
import { FilterSelect, PagedTable } from "../../components/PagedTable.jsx";
import { Loading } from "../../components/States.jsx";
import { useToast } from "../../components/Toasts.jsx";

const Chart = lazy(() => import("../../components/Chart.jsx"));
const LIMIT = 25;

function ReplayButton({ device, entry }) {
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      disabled={busy}
      onClick={async (e) => {
        e.stopPropagation();
        setBusy(true);
        try {
          const runs = await post(`/devices/${device.id}/history/${entry.id}/replay`);
          toast(runs.length ? `Replayed through ${runs.length} flow${runs.length > 1 ? "s" : ""}` : "No flow takes this device now");
        } catch (x) {
          toast(x.message, "error");
        } finally {
          setBusy(false);
        }
      }}
    >
      Replay
    </button>
  );
}

function FieldChart({ device, version }) {
  // The latest 500 uplinks are enough for a picture and cheap to load.
  const points = useAsync(() => request("GET", `/devices/${device.id}/history${query({ event_type: "up", limit: 500 })}`).then((r) => r.data), [device.id, version]);
  const fields = useMemo(() => {
    const set = new Set();
    // In the order the newest uplinks name them: usually the device's main reading first.
    for (const e of points.data || []) numericPaths(e.object, "", set);
    return [...set];
  }, [points.data]);
  const [picked, setField] = useState("");
  const field = fields.includes(picked) ? picked : fields[0] || "";
  if (!points.data) return points.loading ? <Loading /> : null;
  if (!fields.length) return <p className="hint">No numeric decoded field in the latest uplinks to chart.</p>;
  return (
    <section className="chart-box" aria-label="Chart of a decoded field">
      <Field label="Decoded field">
        <select value={field} onChange={(e) => setField(e.target.value)}>
          {fields.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
      </Field>
      <Suspense fallback={<Loading label="Loading the chart…" />}>
        {field && <Chart events={points.data} field={field} />}
      </Suspense>
    </section>
  );
}

export function DeviceHistory({ device, version }) {
  const me = useMe();
  const [open, setOpen] = useState(null);
  const list = usePage(`/devices/${device.id}/history`, LIMIT, { filters: { event_type: "" }, deps: [version] });
  const columns = [
    { key: "received_at", label: "Received", render: (e) => dateTime(e.received_at) },
    { key: "event_type", label: "Event" },
    { key: "f_cnt", label: "FCnt" },
    { key: "f_port", label: "Port" },
    { key: "rssi", label: "RSSI" },
    { key: "snr", label: "SNR" },
    { key: "object", label: "Decoded", className: "clip mono", render: (e) => (e.object ? JSON.stringify(e.object) : "—") },
  ];
  if (canEdit(me)) {
    columns.push({ key: "actions", label: "Actions", render: (e) => e.event_type === "up" && <ReplayButton device={device} entry={e} /> });
  }
  const entry = list.data?.data.find((e) => e.id === open);
  return (
    <>
      <FieldChart device={device} version={version} />
      <div className="filters">
        <FilterSelect page={list} name="event_type" label="Event type" any="All" values={["up", "join", "status", "ack", "txack", "log", "location"]} />
      </div>
      <PagedTable
        page={list}
        label="Event history"
        columns={columns}
        empty="No events yet: they appear here as the device sends them."
        onRowClick={(e) => setOpen(open === e.id ? null : e.id)}
        selected={open}
      />
      {entry && (
        <section aria-label="Event details">
          <h2>Event {entry.dedup_id}</h2>
          <JsonView value={entry.event || entry} label="The event as stored" />
        </section>
      )}
    </>
  );
}
