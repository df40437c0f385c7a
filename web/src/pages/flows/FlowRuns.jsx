// The flow's runs, newest first and live: select one to see its path here and on the canvas;
// replay the uplink a run came from through the device's current flows.
import { useEffect } from "react";
import { post, query, request } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { dateTime, duration } from "../../lib/format.js";
import { usePage } from "../../lib/hooks.js";
import { useLiveReload } from "../../lib/live.js";
import { navigate, useLocation, withQuery } from "../../lib/router.js";
import { LiveBadge } from "../../components/LiveBadge.jsx";
import { FilterSelect, PagedTable } from "../../components/PagedTable.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";
import { useToast } from "../../components/Toasts.jsx";
import { StepTable } from "./StepTable.jsx";

const LIMIT = 20;

// The stored uplink a run came from: the device's history around the run, by dedup id.
async function replay(run) {
  const at = Date.parse(run.created_at);
  const window = query({
    event_type: "up",
    from: new Date(at - 10 * 60000).toISOString(),
    to: new Date(at + 60000).toISOString(),
    limit: 1000,
  });
  const { data } = await request("GET", `/devices/${run.device_id}/history${window}`);
  const entry = data.find((e) => e.dedup_id === run.dedup_id);
  if (!entry) throw new Error("The uplink of this run is no longer in the device's history.");
  return post(`/devices/${run.device_id}/history/${entry.id}/replay`);
}

export function FlowRuns({ flow, nameOf, onSelect }) {
  const me = useMe();
  const toast = useToast();
  const location = useLocation();
  const selected = location.query.run;
  const runs = usePage(`/flows/${flow.id}/history`, LIMIT, { filters: { status: "" } });
  const live = useLiveReload(`flows:${flow.id}`, runs);
  const run = runs.data?.data.find((r) => r.id === selected);
  useEffect(() => onSelect(run ? run.path : null), [run, onSelect]);
  const columns = [
    { key: "created_at", label: "When", render: (r) => dateTime(r.created_at) },
    { key: "dev_eui", label: "Device", className: "mono" },
    { key: "status", label: "Status", render: (r) => <StatusBadge status={r.status} /> },
    { key: "replay", label: "Replay", render: (r) => (r.replay ? "yes" : "") },
    { key: "duration_ms", label: "Took", render: (r) => duration(r.duration_ms) },
  ];
  if (canEdit(me)) {
    columns.push({
      key: "actions",
      label: "Actions",
      render: (r) =>
        r.device_id && (
          <button
            type="button"
            onClick={(e) => {
              e.stopPropagation();
              replay(r).then(
                (made) => toast(`Replayed: ${made.length} new run(s)`),
                (x) => toast(x.message, "error"),
              );
            }}
          >
            Replay uplink
          </button>
        ),
    });
  }
  return (
    <div className="runs">
      <div className="filters">
        <FilterSelect page={runs} name="status" label="Status" values={["success", "partial_success", "error", "filtered"]} />
        <LiveBadge state={live} />
      </div>
      <PagedTable
        page={runs}
        label="Runs"
        columns={columns}
        empty="No runs yet: they appear here live as uplinks come through an enabled flow."
        selected={selected}
        onRowClick={(r) => navigate(withQuery(location, { run: selected === r.id ? "" : r.id }), { replace: true })}
      />
      {run && (
        <section aria-label="Run path">
          <h3>
            Run of {dateTime(run.created_at)} <StatusBadge status={run.status} />
          </h3>
          <StepTable path={run.path} nameOf={nameOf} label="Run steps" />
        </section>
      )}
    </div>
  );
}
