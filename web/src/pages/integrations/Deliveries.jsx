// An integration's delivery attempts, newest first and live; one opened shows the request sent
// and the response received, with every attempt of its job.
import { useState } from "react";
import { get } from "../../lib/api.js";
import { dateTime, duration } from "../../lib/format.js";
import { useAsync, usePage } from "../../lib/hooks.js";
import { useLiveReload } from "../../lib/live.js";
import { HttpExchange } from "../../components/HttpExchange.jsx";
import { LiveBadge } from "../../components/LiveBadge.jsx";
import { FilterSelect, PagedTable } from "../../components/PagedTable.jsx";
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
  const [open, setOpen] = useState(null);
  const list = usePage(`/integrations/${integration.id}/history`, LIMIT, { filters: { status: "" } });
  const live = useLiveReload(`deliveries:${integration.id}`, list);
  return (
    <>
      <div className="filters">
        <FilterSelect page={list} name="status" label="Status" values={["delivered", "retrying", "failed", "dead_lettered"]} />
        <LiveBadge state={live} />
      </div>
      <PagedTable
        page={list}
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
        empty="No deliveries yet: they appear here live as flows deliver."
        selected={open}
        onRowClick={(d) => setOpen(open === d.id ? null : d.id)}
      />
      {open && <Delivery integration={integration} id={open} />}
    </>
  );
}
