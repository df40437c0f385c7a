// Every function with the status of its last run.
import { useState } from "react";
import { query, request } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { ago, dateTime } from "../../lib/format.js";
import { useAsync } from "../../lib/hooks.js";
import { DataTable } from "../../components/DataTable.jsx";
import { Field } from "../../components/Field.jsx";
import { Link } from "../../components/Link.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

export function FunctionList() {
  const me = useMe();
  const [search, setSearch] = useState("");
  const list = useAsync(() => request("GET", `/functions${query({ search, sort: "name", limit: 1000 })}`).then((r) => r.data), [search]);
  return (
    <>
      <PageHeader title="Functions" sub="JavaScript run on each message of a flow, in a sandbox.">
        {canEdit(me) && (
          <Link to="/functions/new" className="button primary">
            New function
          </Link>
        )}
      </PageHeader>
      <div className="filters" role="search">
        <Field label="Search">
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </Field>
      </div>
      <DataTable
        label="Functions"
        columns={[
          { key: "name", label: "Name", render: (f) => <Link to={`/functions/${f.id}`}>{f.name}</Link> },
          { key: "status", label: "Last run", render: (f) => <StatusBadge status={f.status} /> },
          { key: "last_run_at", label: "When", render: (f) => <span title={dateTime(f.last_run_at)}>{ago(f.last_run_at)}</span> },
          { key: "version", label: "Version" },
          { key: "parameters", label: "Parameters", render: (f) => f.parameters.map((p) => p.name).join(", ") || "—" },
        ]}
        rows={list.data}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        empty={search ? "No function matches." : "No functions yet."}
      />
    </>
  );
}
