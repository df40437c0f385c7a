// An integration's delivery attempts, newest first and live; one opened shows the request sent
// and the response received, with every attempt of its job.
import { useState } from "react";
import { get, query, request } from "../../lib/api.js";
import { dateTime, duration } from "../../lib/format.js";
import { useAsync, useThrottled } from "../../lib/hooks.js";
import { useLive } from "../../lib/live.js";
import { DataTable } from "../../components/DataTable.jsx";
import { Field } from "../../components/Field.jsx";
import { HttpExchange } from "../../components/HttpExchange.jsx";
import { LiveBadge } from "../../components/LiveBadge.jsx";
import { Pager } from "../../components/Pager.jsx";
import { ErrorNotice, Loading } from "../../components/States.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

const LIMIT = 20;

function Delivery({ integration, id }) {
  const d = useAsync(() => get(`/integrations/${integration.id}/history/${id}`), [integration.id, id]);
  if (d.error) return <ErrorNotice error={d.error} onRetry={d.reload} />;
  if (!d.data) return <Loading />;
  return (
    <section className="grid-2" aria-label="Delivery details">
      <HttpExchange title="Request" message={d.data.request} />
      <div>
        <HttpExchange title="Response" message={d.data.response} />
        <h3>Attempts</h3>
        <ol>
          {(d.data.attempts || []).map((a) => (
            <li key={a.id}>
              {dateTime(a.created_at)}: <StatusBadge status={a.status} /> {a.http_status || ""} {a.error || ""}
            </li>
          ))}
        </ol>
      </div>
    </section>
  );
}

export function Deliveries({ integration }) {
  const [skip, setSkip] = useState(0);
  const [status, setStatus] = useState("");
  const [open, setOpen] = useState(null);
  const list = useAsync(
    () => request("GET", `/integrations/${integration.id}/history${query({ status, skip, limit: LIMIT })}`),
    [integration.id, status, skip],
  );
  const refresh = useThrottled(() => list.reload(true), 500);
  const live = useLive(`deliveries:${integration.id}`, refresh);
  return (
    <>
      <div className="filters">
        <Field label="Status">
          <select value={status} onChange={(e) => { setStatus(e.target.value); setSkip(0); }}>
            <option value="">Any</option>
            {["delivered", "retrying", "failed", "dead_lettered"].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </Field>
        <LiveBadge state={live} />
      </div>
      <DataTable
        label="Deliveries"
        columns={[
          { key: "created_at", label: "When", render: (d) => dateTime(d.created_at) },
          { key: "status", label: "Status", render: (d) => <StatusBadge status={d.status} /> },
          { key: "attempt", label: "Attempt" },
          { key: "http_status", label: "HTTP" },
          { key: "dev_eui", label: "Device", className: "mono" },
          { key: "duration_ms", label: "Took", render: (d) => duration(d.duration_ms) },
          { key: "error", label: "Error", className: "clip", render: (d) => d.error || "" },
        ]}
        rows={list.data?.data}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        empty="No deliveries yet: they appear here live as flows deliver."
        selected={open}
        onRowClick={(d) => setOpen(open === d.id ? null : d.id)}
      />
      <Pager skip={skip} limit={LIMIT} total={list.data?.total} onChange={setSkip} />
      {open && <Delivery integration={integration} id={open} />}
    </>
  );
}
