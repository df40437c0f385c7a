// "3 online · 1 offline · 5 never seen", each a filter.
const ORDER = [
  ["online", "online"],
  ["offline", "offline"],
  ["never_seen", "never seen"],
];

export function StatusSummary({ counts, onPick }) {
  if (!counts) return null;
  return (
    <span className="summary">
      {ORDER.map(([key, text], i) => (
        <span key={key}>
          {i > 0 && " · "}
          <button type="button" className="link" onClick={() => onPick(key)}>
            <span className={`count status-${key}`}>{counts[key] ?? 0}</span> {text}
          </button>
        </span>
      ))}
    </span>
  );
}
