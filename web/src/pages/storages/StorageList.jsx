// Every storage (internal, InfluxDB, PostgreSQL).
import { query, request } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { dateTime } from "../../lib/format.js";
import { useAsync } from "../../lib/hooks.js";
import { DataTable } from "../../components/DataTable.jsx";
import { Link } from "../../components/Link.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";

export function StorageList() {
  const me = useMe();
  const list = useAsync(() => request("GET", `/storages${query({ sort: "name", limit: 1000 })}`).then((r) => r.data), []);
  return (
    <>
      <PageHeader title="Storages" sub="Where flows keep messages: internally, in InfluxDB or in PostgreSQL.">
        {canEdit(me) && (
          <a href="#/storages/new" className="button primary">
            New storage
          </a>
        )}
      </PageHeader>
      <DataTable
        label="Storages"
        columns={[
          { key: "name", label: "Name", render: (s) => <Link to={`/storages/${s.id}`}>{s.name}</Link> },
          { key: "type", label: "Type" },
          { key: "updated_at", label: "Changed", render: (s) => dateTime(s.updated_at) },
        ]}
        rows={list.data}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        empty="No storages yet."
      />
    </>
  );
}
