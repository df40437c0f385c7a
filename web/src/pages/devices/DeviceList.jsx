// The fleet: every device with its live status, filtered by status and label, searched by
// name or DevEUI. Status changes arrive over the live stream (the row lights up); last seen and
// battery are refreshed every 30 s.
import { useState } from "react";
import { query, request } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { ago, dateTime } from "../../lib/format.js";
import { useAll, useAsync, useInterval, useThrottled } from "../../lib/hooks.js";
import { useLive } from "../../lib/live.js";
import { navigate, useLocation, withQuery } from "../../lib/router.js";
import { Field } from "../../components/Field.jsx";
import { Link } from "../../components/Link.jsx";
import { LiveBadge } from "../../components/LiveBadge.jsx";
import { NewButton } from "../../components/NewButton.jsx";
import { PagedTable } from "../../components/PagedTable.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";
import { StatusSummary } from "./StatusSummary.jsx";

const LIMIT = 50;

const columns = [
  { key: "name", label: "Name", render: (d) => <Link to={`/devices/${d.id}`}>{d.name}</Link> },
  { key: "dev_eui", label: "DevEUI", className: "mono" },
  { key: "status", label: "Status", render: (d) => <StatusBadge status={d.status} /> },
  {
    key: "last_seen_at",
    label: "Last seen",
    render: (d) => <time dateTime={d.last_seen_at || undefined} title={dateTime(d.last_seen_at)}>{ago(d.last_seen_at)}</time>,
  },
  { key: "battery_level", label: "Battery", render: (d) => (d.battery_level === null ? "—" : `${Math.round(d.battery_level)} %`) },
  { key: "labels", label: "Labels", render: (d) => d.labels.map((l) => <span key={l.id} className="chip">{l.name}</span>) },
];

export function DeviceList() {
  const me = useMe();
  const location = useLocation();
  const { search = "", status = "", label = "" } = location.query;
  const skip = Number(location.query.skip || 0);
  const [text, setText] = useState(search);
  const [changed, setChanged] = useState(() => new Set()); // devices whose status changed live
  const labels = useAll("labels");
  const list = useAsync(
    () => request("GET", `/devices${query({ search, status, label, skip, limit: LIMIT, sort: "name" })}`),
    [search, status, label, skip],
  );
  const counts = useAsync(
    () =>
      Promise.all(
        ["online", "offline", "never_seen"].map((s) =>
          request("GET", `/devices${query({ status: s, label, limit: 1 })}`).then((r) => [s, r.total]),
        ),
      ).then(Object.fromEntries),
    [label],
  );
  const refresh = useThrottled(() => {
    list.reload(true);
    counts.reload(true);
  }, 500);
  const live = useLive("devstate", (event, e) => {
    if (event === "ready") return refresh();
    if (event !== "devstate" || !list.data) return;
    const change = e.data;
    setChanged((c) => new Set(c).add(change.device_id));
    list.setData({
      ...list.data,
      data: list.data.data.map((d) =>
        d.id === change.device_id || d.dev_eui === change.dev_eui
          ? { ...d, status: change.state, last_seen_at: change.last_seen_at ?? d.last_seen_at }
          : d,
      ),
    });
    counts.reload(true);
  });
  useInterval(() => list.reload(true), 30000);

  const go = (changes) => navigate(withQuery(location, { skip: "", ...changes }));
  return (
    <>
      <PageHeader title="Devices" sub={<StatusSummary counts={counts.data} onPick={(s) => go({ status: s })} />}>
        <LiveBadge state={live} />
        {canEdit(me) && <NewButton to="/devices/new">Add device</NewButton>}
      </PageHeader>
      <form
        className="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go({ search: text });
        }}
      >
        <Field label="Search">
          <input type="search" placeholder="Name or DevEUI" value={text} onChange={(e) => setText(e.target.value)} />
        </Field>
        <Field label="Status">
          <select value={status} onChange={(e) => go({ status: e.target.value })}>
            <option value="">Any</option>
            <option value="online">Online</option>
            <option value="offline">Offline</option>
            <option value="never_seen">Never seen</option>
            <option value="maintenance">Maintenance</option>
          </select>
        </Field>
        <Field label="Label">
          <select value={label} onChange={(e) => go({ label: e.target.value })}>
            <option value="">Any</option>
            {(labels.data || []).map((l) => (
              <option key={l.id} value={l.id}>
                {l.name}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit">Search</button>
      </form>
      <PagedTable
        // The page and the filters live in the address (shareable, kept on back): not usePage.
        page={{ ...list, skip, limit: LIMIT, setSkip: (s) => go({ skip: s || "" }) }}
        label="Devices"
        columns={columns}
        rowClass={(d) => changed.has(d.id) && "changed"}
        empty={
          search || status || label ? (
            "No device matches these filters."
          ) : (
            <>
              No devices yet.{" "}
              {canEdit(me) && (
                <>
                  <Link to="/devices/new">Add one</Link>, or register those that already sent data under{" "}
                  <Link to="/unknown-devices">Unknown devices</Link>.
                </>
              )}
            </>
          )
        }
      />
    </>
  );
}

