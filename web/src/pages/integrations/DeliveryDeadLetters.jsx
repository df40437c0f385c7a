// Deliveries that used up their attempts: retry one, or all.
import { get, post } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { dateTime } from "../../lib/format.js";
import { useAsync } from "../../lib/hooks.js";
import { useLiveReload } from "../../lib/live.js";
import { DataTable } from "../../components/DataTable.jsx";
import { useToast } from "../../components/Toasts.jsx";

export function DeliveryDeadLetters({ integration }) {
  const me = useMe();
  const toast = useToast();
  const list = useAsync(() => get(`/integrations/${integration.id}/dead-letters?limit=1000`), [integration.id]);
  useLiveReload("deadletters:deliveries", list);
  const retry = (path, what) =>
    post(path).then(
      (r) => {
        toast(`${what}: ${r.retried ?? 0} queued again${r.failed ? `, ${r.failed} failed` : ""}`);
        list.reload(true);
      },
      (x) => toast(x.message, "error"),
    );
  const columns = [
    { key: "created_at", label: "When", render: (d) => dateTime(d.created_at) },
    { key: "job_id", label: "Job", className: "clip mono" },
    { key: "attempts", label: "Attempts" },
    { key: "last_error", label: "Last error", className: "clip" },
  ];
  if (canEdit(me)) {
    columns.push({
      key: "actions",
      label: "Actions",
      render: (d) => (
        <button type="button" onClick={() => retry(`/integrations/${integration.id}/dead-letters/${d.id}/retry`, "Retried")}>
          Retry
        </button>
      ),
    });
  }
  return (
    <>
      {canEdit(me) && list.data?.length > 0 && (
        <button type="button" onClick={() => retry(`/integrations/${integration.id}/dead-letters/retry`, "Retried all")}>
          Retry all
        </button>
      )}
      <DataTable
        label="Dead letters"
        columns={columns}
        rows={list.data}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        empty="No dead letters: every delivery got through or is still being retried."
      />
    </>
  );
}
