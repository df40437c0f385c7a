// A page of a long list: the table with its states, the pager below it, and the filters that
// narrow it. `page` is what usePage (lib/hooks.js) gives, or the same shape.
import { DataTable } from "./DataTable.jsx";
import { Field } from "./Field.jsx";
import { Pager } from "./Pager.jsx";

// The rest of the props go to DataTable (label, columns, empty, selected, onRowClick, …).
export function PagedTable({ page, ...table }) {
  return (
    <>
      <DataTable rows={page.data?.data} loading={page.loading} error={page.error} onRetry={page.reload} {...table} />
      <Pager skip={page.skip} limit={page.limit} total={page.data?.total} onChange={page.setSkip} />
    </>
  );
}

// One of the page's filters as a select of the API's values, `any` for none ("").
export function FilterSelect({ page, name, label, values, any = "Any" }) {
  return (
    <Field label={label}>
      <select value={page.filters[name]} onChange={(e) => page.filter(name, e.target.value)}>
        <option value="">{any}</option>
        {values.map((v) => (
          <option key={v}>{v}</option>
        ))}
      </select>
    </Field>
  );
}
