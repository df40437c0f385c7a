// A function's executions in flows (recorded with their runs), newest first and live.
import { useState } from "react";
import { dateTime, duration } from "../../lib/format.js";
import { usePage } from "../../lib/hooks.js";
import { useLiveReload } from "../../lib/live.js";
import { JsonView } from "../../components/JsonView.jsx";
import { LiveBadge } from "../../components/LiveBadge.jsx";
import { PagedTable } from "../../components/PagedTable.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

const LIMIT = 20;

export function FunctionRuns({ fn }) {
  const [open, setOpen] = useState(null);
  const runs = usePage(`/functions/${fn.id}/history`, LIMIT);
  const live = useLiveReload(`functions:${fn.id}`, runs);
  const run = runs.data?.data.find((r) => r.id === open);
  return (
    <>
      <LiveBadge state={live} />
      <PagedTable
        page={runs}
        label="Function runs"
        columns={[
          { key: "created_at", label: "When", render: (r) => dateTime(r.created_at) },
          { key: "status", label: "Status", render: (r) => <StatusBadge status={r.status} /> },
          { key: "version", label: "Version" },
          { key: "dev_eui", label: "Device", className: "mono" },
          { key: "duration_ms", label: "Took", render: (r) => duration(r.duration_ms) },
          { key: "error", label: "Error", render: (r) => r.error?.message || "" },
        ]}
        empty="No runs yet: flows record each execution here (tests are not recorded)."
        selected={open}
        onRowClick={(r) => setOpen(open === r.id ? null : r.id)}
      />
      {run && (
        <section className="grid-2" aria-label="Run details">
          <div>
            <h3>Input</h3>
            <JsonView value={run.input} />
          </div>
          <div>
            <h3>Output</h3>
            <JsonView value={run.output} />
            <h3>Logs</h3>
            <JsonView value={run.logs} />
            {run.error && (
              <>
                <h3>Error</h3>
                <JsonView value={run.error} />
              </>
            )}
          </div>
        </section>
      )}
    </>
  );
}
