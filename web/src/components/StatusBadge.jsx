// A status as a word with a colour (never the colour alone).
const LABELS = { never_seen: "never seen", partial_success: "partial", dead_lettered: "dead letter" };

export function StatusBadge({ status }) {
  if (!status) return <span className="badge">—</span>;
  return <span className={`badge status-${status}`}>{LABELS[status] || status}</span>;
}
