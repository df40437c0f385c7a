// Whether the page follows live events right now.
const TEXT = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…" };

export function LiveBadge({ state }) {
  return (
    <span className={`live live-${state}`} role="status" aria-live="polite">
      <span className="dot" aria-hidden="true" />
      {TEXT[state] || state}
    </span>
  );
}
