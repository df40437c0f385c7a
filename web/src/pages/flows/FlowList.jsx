// Every flow, enabled or not, with a way to start a new one (an empty flow, opened in the editor).
import { useState } from "react";
import { post } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { dateTime } from "../../lib/format.js";
import { navigate } from "../../lib/router.js";
import { Field } from "../../components/Field.jsx";
import { Link } from "../../components/Link.jsx";
import { ListPage } from "../../components/ListPage.jsx";
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

const columns = [
  { key: "name", label: "Name", render: (f) => <Link to={`/flows/${f.id}`}>{f.name}</Link> },
  { key: "enabled", label: "State", render: (f) => <StatusBadge status={f.enabled ? "enabled" : "disabled"} /> },
  { key: "nodes", label: "Nodes", render: (f) => f.nodes.length },
  { key: "version", label: "Version" },
  { key: "updated_at", label: "Changed", render: (f) => dateTime(f.updated_at) },
];

export function FlowList() {
  const me = useMe();
  return (
    <ListPage
      kind="flows"
      title="Flows"
      sub="Graphs that take each uplink from its device or label through functions to integrations and storages."
      searchable
      columns={columns}
      empty="No flows yet."
      noMatch="No flow matches."
    >
      {canEdit(me) && <NewFlow />}
    </ListPage>
  );
}
