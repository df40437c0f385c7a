// Every storage (internal, InfluxDB, PostgreSQL).
import { dateTime } from "../../lib/format.js";
import { Link } from "../../components/Link.jsx";
import { ListPage } from "../../components/ListPage.jsx";

const columns = [
  { key: "name", label: "Name", render: (s) => <Link to={`/storages/${s.id}`}>{s.name}</Link> },
  { key: "type", label: "Type" },
  { key: "updated_at", label: "Changed", render: (s) => dateTime(s.updated_at) },
];

export function StorageList() {
  return (
    <ListPage
      kind="storages"
      title="Storages"
      sub="Where flows keep messages: internally, in InfluxDB or in PostgreSQL."
      create={{ to: "/storages/new", label: "New storage" }}
      columns={columns}
      empty="No storages yet."
    />
  );
}
