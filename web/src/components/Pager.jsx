// Previous / next over a list answered with X-Total-Count.
export function Pager({ skip, limit, total, onChange }) {
  if (total === null || total === undefined || total <= limit) return null;
  const page = Math.floor(skip / limit) + 1;
  const pages = Math.ceil(total / limit);
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={skip === 0} onClick={() => onChange(Math.max(0, skip - limit))}>
        Previous
      </button>
      <span>
        Page {page} of {pages} ({total})
      </span>
      <button type="button" disabled={skip + limit >= total} onClick={() => onChange(skip + limit)}>
        Next
      </button>
    </nav>
  );
}
