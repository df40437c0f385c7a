// Every integration (HTTP, MQTT) with its state.
import { query, request } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { useAsync } from "../../lib/hooks.js";
import { DataTable } from "../../components/DataTable.jsx";
import { Link } from "../../components/Link.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

export function target(i) {
  return i.type === "http" ? `${i.config.method || "POST"} ${i.config.url}` : `mqtt://${i.config.host}:${i.config.port ?? 1883} ${i.config.topic}`;
}

export function IntegrationList() {
  const me = useMe();
  const list = useAsync(() => request("GET", `/integrations${query({ sort: "name", limit: 1000 })}`).then((r) => r.data), []);
  return (
    <>
      <PageHeader title="Integrations" sub="Where flows deliver messages: HTTP endpoints and MQTT brokers.">
        {canEdit(me) && (
          <a href="#/integrations/new" className="button primary">
            New integration
          </a>
        )}
      </PageHeader>
      <DataTable
        label="Integrations"
        columns={[
          { key: "name", label: "Name", render: (i) => <Link to={`/integrations/${i.id}`}>{i.name}</Link> },
          { key: "type", label: "Type" },
          { key: "target", label: "Target", className: "clip mono", render: target },
          { key: "status", label: "Status", render: (i) => <StatusBadge status={i.status} /> },
          { key: "last_error", label: "Last error", className: "clip", render: (i) => i.last_error || "" },
        ]}
        rows={list.data}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        empty="No integrations yet."
      />
    </>
  );
}
