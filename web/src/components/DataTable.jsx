// A table of rows with the loading, error and empty states every list needs.
import { ErrorNotice, Loading, Empty } from "./States.jsx";

// columns: [{key, label, render?(row), className?}]; rowClass(row) adds a class to a row.
export function DataTable({ label, columns, rows, loading, error, onRetry, empty = "Nothing here yet.", rowKey = "id", onRowClick, selected, rowClass }) {
  if (error && !rows) return <ErrorNotice error={error} onRetry={onRetry} />;
  if (!rows) return loading ? <Loading /> : null;
  return (
    <>
      {error && <ErrorNotice error={error} onRetry={onRetry} />}
      {rows.length === 0 ? (
        <Empty>{empty}</Empty>
      ) : (
        <div className="table-wrap">
          <table aria-label={label} aria-busy={loading || undefined}>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c.key} scope="col" className={c.className}>
                    {c.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr
                  key={row[rowKey]}
                  className={[onRowClick && "clickable", selected === row[rowKey] && "selected", rowClass?.(row)].filter(Boolean).join(" ")}
                  onClick={onRowClick ? () => onRowClick(row) : undefined}
                  // Rows that open something are reachable and usable from the keyboard too.
                  tabIndex={onRowClick ? 0 : undefined}
                  onKeyDown={
                    onRowClick
                      ? (e) => {
                          if (e.target === e.currentTarget && (e.key === "Enter" || e.key === " ")) {
                            e.preventDefault();
                            onRowClick(row);
                          }
                        }
                      : undefined
                  }
                >
                  {columns.map((c) => (
                    <td key={c.key} className={c.className} data-label={c.label}>
                      {c.render ? c.render(row) : row[c.key]}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
