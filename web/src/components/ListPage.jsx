// The page of every definition of a kind (flows, functions, integrations, storages), by name:
// its header with the "New …" link for editors, what the caller puts below it, an optional
// search, and the table with its loading, error and empty states.
import { useState } from "react";
import { query, request } from "../lib/api.js";
import { canEdit, useMe } from "../lib/auth.js";
import { useAsync } from "../lib/hooks.js";
import { DataTable } from "./DataTable.jsx";
import { Field } from "./Field.jsx";
import { NewButton } from "./NewButton.jsx";
import { PageHeader } from "./PageHeader.jsx";

// kind: the API's collection ("functions"); title also names the table. create: {to, label} of
// the new item's page. searchable: a search box (the API matches names); noMatch is said then
// when nothing matches, empty when there is nothing at all. children stand between header and search.
export function ListPage({ kind, title, sub, create, searchable, columns, empty, noMatch, children }) {
  const me = useMe();
  const [search, setSearch] = useState("");
  // All of them in one answer: these are definitions, few enough for a page.
  const list = useAsync(() => request("GET", `/${kind}${query({ search, sort: "name", limit: 1000 })}`).then((r) => r.data), [kind, search]);
  return (
    <>
      <PageHeader title={title} sub={sub}>
        {create && canEdit(me) && <NewButton to={create.to}>{create.label}</NewButton>}
      </PageHeader>
      {children}
      {searchable && (
        <div className="filters" role="search">
          <Field label="Search">
            <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
          </Field>
        </div>
      )}
      <DataTable
        label={title}
        columns={columns}
        rows={list.data}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        empty={search ? noMatch : empty}
      />
    </>
  );
}
