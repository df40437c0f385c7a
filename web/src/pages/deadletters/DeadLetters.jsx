// Everything that left the pipeline for good, in one place: device events the history could not
// store, uplinks whose flows could not run, and deliveries out of attempts (per integration).
// Live: a new dead letter shows up without a reload.
import { useState } from "react";
import { del, get, getAll, post } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { dateTime } from "../../lib/format.js";
import { useAsync, usePage, useThrottled } from "../../lib/hooks.js";
import { useLive } from "../../lib/live.js";
import { DataTable } from "../../components/DataTable.jsx";
import { JsonView } from "../../components/JsonView.jsx";
import { Link } from "../../components/Link.jsx";
import { LiveBadge } from "../../components/LiveBadge.jsx";
import { PagedTable } from "../../components/PagedTable.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { ErrorNotice, Loading } from "../../components/States.jsx";
import { useToast } from "../../components/Toasts.jsx";

const KINDS = [
  ["device-events", "Device events", "Events ingest accepted but the history could not store."],
  ["uplinks", "Uplinks", "Uplinks whose flows could not run or be recorded."],
];
const LIMIT = 20;

function Payload({ kind, id }) {
  const item = useAsync(() => get(`/dead-letters/${kind}/${id}`), [kind, id]);
  if (item.error) return <ErrorNotice error={item.error} onRetry={item.reload} />;
  if (!item.data) return <Loading />;
  let shown = item.data.payload ?? `(binary, base64) ${item.data.payload_base64}`;
  try {
    shown = JSON.parse(item.data.payload);
  } catch {
    // not JSON: shown as text
  }
  return <JsonView value={shown} label="Payload" />;
}

function KindList({ kind, title, about, version, onChanged }) {
  const me = useMe();
  const toast = useToast();
  const [open, setOpen] = useState(null);
  const list = usePage(`/dead-letters/${kind}`, LIMIT, { deps: [version] });
  const act = (promise, what) =>
    promise.then(
      (r) => {
        toast(r ? `${what}: ${r.retried} back in the pipeline, ${r.failed} refused again` : what);
        list.reload(true);
        onChanged();
      },
      (x) => toast(x.message, "error"),
    );
  const columns = [
    { key: "created_at", label: "When", render: (d) => dateTime(d.created_at) },
    { key: "key", label: "Item", className: "clip mono" },
    { key: "error", label: "Why", className: "clip" },
    { key: "attempts", label: "Attempts" },
  ];
  if (canEdit(me)) {
    columns.push({
      key: "actions",
      label: "Actions",
      render: (d) => (
        <span className="row-actions" onClick={(e) => e.stopPropagation()}>
          <button type="button" onClick={() => act(post(`/dead-letters/${kind}/${d.id}/retry`), "Retried")}>
            Retry
          </button>
          <button type="button" className="danger" onClick={() => act(del(`/dead-letters/${kind}/${d.id}`), "Discarded")}>
            Discard
          </button>
        </span>
      ),
    });
  }
  return (
    <section aria-labelledby={`dl-${kind}`}>
      <div className="section-header">
        <h2 id={`dl-${kind}`}>{title}</h2>
        {canEdit(me) && list.data?.total > 0 && (
          <button type="button" onClick={() => act(post(`/dead-letters/${kind}/retry`), "Retried the oldest 1000")}>
            Retry all
          </button>
        )}
      </div>
      <p className="hint">{about}</p>
      <PagedTable
        page={list}
        label={title}
        columns={columns}
        empty="None."
        selected={open}
        onRowClick={(d) => setOpen(open === d.id ? null : d.id)}
      />
      {open && <Payload kind={kind} id={open} />}
    </section>
  );
}

function DeliveryDeadLetters({ version }) {
  const counts = useAsync(async () => {
    const integrations = await getAll("/integrations", { sort: "name" });
    const lists = await Promise.all(integrations.slice(0, 50).map((i) => get(`/integrations/${i.id}/dead-letters?limit=1000`)));
    return integrations.slice(0, 50).map((i, n) => ({ ...i, dead: lists[n].length })).filter((i) => i.dead > 0);
  }, [version]);
  return (
    <section aria-labelledby="dl-deliveries">
      <h2 id="dl-deliveries">Deliveries</h2>
      <p className="hint">Deliveries that used up their attempts, by integration: open one to retry them.</p>
      <DataTable
        label="Integrations with dead letters"
        columns={[
          { key: "name", label: "Integration", render: (i) => <Link to={`/integrations/${i.id}?tab=dead-letters`}>{i.name}</Link> },
          { key: "dead", label: "Dead letters" },
        ]}
        rows={counts.data}
        loading={counts.loading}
        error={counts.error}
        onRetry={counts.reload}
        empty="None."
      />
    </section>
  );
}

export function DeadLetters() {
  const [version, setVersion] = useState(0);
  const refresh = useThrottled(() => setVersion((v) => v + 1), 500);
  const live = useLive("deadletters", refresh);
  return (
    <>
      <PageHeader title="Dead letters" sub="What left the pipeline for good: look at it, put it back, or discard it.">
        <LiveBadge state={live} />
      </PageHeader>
      {KINDS.map(([kind, title, about]) => (
        <KindList key={kind} kind={kind} title={title} about={about} version={version} onChanged={refresh} />
      ))}
      <DeliveryDeadLetters version={version} />
    </>
  );
}
