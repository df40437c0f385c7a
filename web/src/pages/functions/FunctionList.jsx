// Every function with the status of its last run.
import { ago, dateTime } from "../../lib/format.js";
import { Link } from "../../components/Link.jsx";
import { ListPage } from "../../components/ListPage.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

const columns = [
  { key: "name", label: "Name", render: (f) => <Link to={`/functions/${f.id}`}>{f.name}</Link> },
  { key: "status", label: "Last run", render: (f) => <StatusBadge status={f.status} /> },
  { key: "last_run_at", label: "When", render: (f) => <span title={dateTime(f.last_run_at)}>{ago(f.last_run_at)}</span> },
  { key: "version", label: "Version" },
  { key: "parameters", label: "Parameters", render: (f) => f.parameters.map((p) => p.name).join(", ") || "—" },
];

export function FunctionList() {
  return (
    <ListPage
      kind="functions"
      title="Functions"
      sub="JavaScript run on each message of a flow, in a sandbox."
      create={{ to: "/functions/new", label: "New function" }}
      searchable
      columns={columns}
      empty="No functions yet."
      noMatch="No function matches."
    />
  );
}
