// A JSON value, pretty-printed and scrollable.
export function JsonView({ value, label }) {
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      {value === undefined ? "—" : JSON.stringify(value, null, 2)}
    </pre>
  );
}
