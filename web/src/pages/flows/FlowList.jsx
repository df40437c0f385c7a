// Every flow, enabled or not, with a way to start a new one (an empty flow, opened in the editor).
import { useState } from "react";
import { post, query, request } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { dateTime } from "../../lib/format.js";
import { useAsync } from "../../lib/hooks.js";
import { navigate } from "../../lib/router.js";
import { DataTable } from "../../components/DataTable.jsx";
import { Field } from "../../components/Field.jsx";
import { Link } from "../../components/Link.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { ErrorNotice } from "../../components/States.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

function NewFlow() {
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  return (
    <form
      className="filters"
      aria-label="New flow"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          const flow = await post("/flows", { name, enabled: false, nodes: [], edges: [] });
          navigate(`/flows/${flow.id}`);
        } catch (x) {
          setError(x);
        }
      }}
    >
      <Field label="New flow's name">
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <button type="submit" className="primary">
        Create and edit
      </button>
      <ErrorNotice error={error} />
    </form>
  );
}

export function FlowList() {
  const me = useMe();
  const [search, setSearch] = useState("");
  const flows = useAsync(() => request("GET", `/flows${query({ search, sort: "name", limit: 1000 })}`).then((r) => r.data), [search]);
  return (
    <>
      <PageHeader title="Flows" sub="Graphs that take each uplink from its device or label through functions to integrations and storages." />
      {canEdit(me) && <NewFlow />}
      <div className="filters" role="search">
        <Field label="Search">
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </Field>
      </div>
      <DataTable
        label="Flows"
        columns={[
          { key: "name", label: "Name", render: (f) => <Link to={`/flows/${f.id}`}>{f.name}</Link> },
          { key: "enabled", label: "State", render: (f) => <StatusBadge status={f.enabled ? "enabled" : "disabled"} /> },
          { key: "nodes", label: "Nodes", render: (f) => f.nodes.length },
          { key: "version", label: "Version" },
          { key: "updated_at", label: "Changed", render: (f) => dateTime(f.updated_at) },
        ]}
        rows={flows.data}
        loading={flows.loading}
        error={flows.error}
        onRetry={flows.reload}
        empty={search ? "No flow matches." : "No flows yet."}
      />
    </>
  );
}
