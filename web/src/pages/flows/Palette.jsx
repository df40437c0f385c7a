// What can go on the canvas, by kind: drag an item onto it, or press its button to add it (the
// keyboard's way).
import { useState } from "react";
import { KINDS } from "./graph.js";

const TITLES = { device: "Devices", label: "Labels", function: "Functions", integration: "Integrations", storage: "Storages" };
export const DRAG_TYPE = "application/x-dm-node";

export function Palette({ entities, onAdd }) {
  const [filter, setFilter] = useState("");
  const f = filter.toLowerCase();
  return (
    <aside className="palette" aria-label="Add to the flow">
      <label className="palette-search">
        <span className="sr-only">Filter</span>
        <input type="search" placeholder="Filter…" value={filter} onChange={(e) => setFilter(e.target.value)} />
      </label>
      {KINDS.map((kind) => {
        const items = (entities[kind] || []).filter((x) => !f || x.name.toLowerCase().includes(f) || x.dev_eui?.includes(f)).slice(0, 30);
        return (
          <section key={kind}>
            <h2>{TITLES[kind]}</h2>
            {items.length === 0 && <p className="hint">none</p>}
            <ul>
              {items.map((x) => (
                <li
                  key={x.id}
                  draggable
                  onDragStart={(e) => {
                    e.dataTransfer.setData(DRAG_TYPE, JSON.stringify({ kind, entityId: x.id }));
                    e.dataTransfer.effectAllowed = "move";
                  }}
                  className={`palette-item kind-${kind}`}
                >
                  <span>{x.name}</span>
                  <button type="button" className="small" aria-label={`Add ${TITLES[kind].toLowerCase().slice(0, -1)} ${x.name}`} onClick={() => onAdd(kind, x.id)}>
                    Add
                  </button>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </aside>
  );
}
