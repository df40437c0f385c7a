// One device: what it is, its live status, its labels, its event history (table and chart)
// and the flows its uplinks trigger.
import { useState } from "react";
import { del, get, patch } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { ago, dateTime } from "../../lib/format.js";
import { useAsync, useThrottled } from "../../lib/hooks.js";
import { useLive } from "../../lib/live.js";
import { navigate } from "../../lib/router.js";
import { ConfirmButton } from "../../components/ConfirmButton.jsx";
import { LiveBadge } from "../../components/LiveBadge.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { Pending } from "../../components/States.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";
import { Tabs } from "../../components/Tabs.jsx";
import { useToast } from "../../components/Toasts.jsx";
import { DeviceFlows } from "./DeviceFlows.jsx";
import { DeviceForm } from "./DeviceForm.jsx";
import { DeviceHistory } from "./DeviceHistory.jsx";

function Facts({ device }) {
  return (
    <dl className="facts">
      <dt>DevEUI</dt>
      <dd className="mono">{device.dev_eui}</dd>
      <dt>Status</dt>
      <dd>
        <StatusBadge status={device.status} />
      </dd>
      <dt>Last seen</dt>
      <dd title={dateTime(device.last_seen_at)}>{ago(device.last_seen_at)}</dd>
      <dt>Battery</dt>
      <dd>{device.battery_level === null ? "—" : `${Math.round(device.battery_level)} %`}</dd>
      <dt>Transmits every</dt>
      <dd>{device.expected_transmit_time ? `${device.expected_transmit_time} min` : "—"}</dd>
      <dt>Region</dt>
      <dd>{device.region || "—"}</dd>
      <dt>Labels</dt>
      <dd>{device.labels.length ? device.labels.map((l) => <span key={l.id} className="chip">{l.name}</span>) : "none"}</dd>
      {device.description && (
        <>
          <dt>Description</dt>
          <dd>{device.description}</dd>
        </>
      )}
    </dl>
  );
}

export function DeviceDetail({ id }) {
  const me = useMe();
  const toast = useToast();
  const device = useAsync(() => get(`/devices/${id}`), [id]);
  const [editing, setEditing] = useState(false);
  const [historyVersion, setHistoryVersion] = useState(0);
  const refresh = useThrottled(() => {
    device.reload(true);
    setHistoryVersion((v) => v + 1);
  }, 500);
  const eui = device.data?.dev_eui;
  const live = useLive(eui && `devstate:${eui},device:${eui}`, (event, e) => {
    if (event === "devstate" && device.data) {
      device.setData({ ...device.data, status: e.data.state, last_seen_at: e.data.last_seen_at ?? device.data.last_seen_at });
    } else {
      refresh();
    }
  });

  if (!device.data) return <Pending load={device} />;
  const d = device.data;
  return (
    <>
      <PageHeader title={d.name} sub={<span className="mono">{d.dev_eui}</span>}>
        <LiveBadge state={live} />
        {canEdit(me) && !editing && (
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
        )}
        {canEdit(me) && (
          <ConfirmButton
            confirm={`Delete ${d.name}?`}
            onConfirm={async () => {
              await del(`/devices/${id}`).then(
                () => navigate("/devices"),
                (e) => toast(e.message, "error"),
              );
            }}
          >
            Delete
          </ConfirmButton>
        )}
      </PageHeader>
      {editing ? (
        <DeviceForm
          device={d}
          submitLabel="Save device"
          onSubmit={async (body) => {
            device.setData(await patch(`/devices/${id}`, body));
            setEditing(false);
            toast("Device saved");
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <Facts device={d} />
      )}
      <Tabs
        label="Device"
        tabs={[
          { id: "history", label: "Event history", render: () => <DeviceHistory device={d} version={historyVersion} /> },
          { id: "flows", label: "Flows", render: () => <DeviceFlows device={d} version={historyVersion} /> },
        ]}
      />
    </>
  );
}
