// Tabs kept in the URL (?tab=…), so a reload or a shared link shows the same one.
import { navigate, useLocation, withQuery } from "../lib/router.js";

export function Tabs({ tabs, label }) {
  const location = useLocation();
  const active = tabs.find((t) => t.id === location.query.tab) || tabs[0];
  if (!active) return null;
  return (
    <div className="tabs">
      <div role="tablist" aria-label={label}>
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={t === active}
            aria-controls={`panel-${t.id}`}
            onClick={() => navigate(withQuery(location, { tab: t.id }), { replace: true })}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${active.id}`} aria-labelledby={`tab-${active.id}`}>
        <h2 className="sr-only">{active.label}</h2>
        {active.render()}
      </div>
    </div>
  );
}
