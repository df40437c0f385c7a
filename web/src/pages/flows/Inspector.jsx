// The selected node or edge: what it stands for, a function node's parameters, connecting it
// to another node (without dragging), removing it. Read-only for viewers.
import { useState } from "react";
import { Field } from "../../components/Field.jsx";
import { Link } from "../../components/Link.jsx";
import { TRIGGERS } from "./graph.js";

const PAGE = { device: "devices", label: "labels", function: "functions", integration: "integrations", storage: "storages" };

// `rest` carries the id and ARIA attributes Field gives its control.
function ParameterInput({ spec, value, onChange, disabled, ...rest }) {
  const shown = value === undefined ? spec.default : value;
  if (spec.type === "boolean") {
    return <input {...rest} type="checkbox" disabled={disabled} checked={Boolean(shown)} onChange={(e) => onChange(e.target.checked)} />;
  }
  if (spec.type === "number" || spec.type === "integer") {
    return (
      <input
        {...rest}
        type="number"
        step={spec.type === "integer" ? 1 : "any"}
        disabled={disabled}
        value={shown ?? ""}
        onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}
      />
    );
  }
  if (spec.type === "object" || spec.type === "array") {
    return <JsonInput {...rest} value={shown} onChange={onChange} disabled={disabled} />;
  }
  return <input {...rest} disabled={disabled} value={shown ?? ""} onChange={(e) => onChange(e.target.value)} />;
}

function JsonInput({ value, onChange, disabled, ...rest }) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value));
  const [bad, setBad] = useState(false);
  return (
    <textarea
      {...rest}
      rows={3}
      className={`mono ${bad ? "bad" : ""}`}
      disabled={disabled}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        try {
          onChange(e.target.value.trim() ? JSON.parse(e.target.value) : undefined);
          setBad(false);
        } catch {
          setBad(true);
        }
      }}
    />
  );
}

function Parameters({ node, fn, editable, onChange }) {
  const specs = fn?.parameters || [];
  const values = node.data.parameters || {};
  const set = (name, v) => {
    const next = { ...values };
    if (v === undefined) delete next[name];
    else next[name] = v;
    onChange({ parameters: next });
  };
  if (!specs.length) {
    return (
      <Field label="Parameters (JSON)" hint="This function declares none; any object is passed as given.">
        <JsonInput value={values} disabled={!editable} onChange={(v) => onChange({ parameters: v || {} })} />
      </Field>
    );
  }
  return (
    <fieldset>
      <legend>Parameters</legend>
      {specs.map((p) => (
        <Field key={p.name} label={`${p.name}${p.required ? " *" : ""}`} hint={[p.type, p.description].filter(Boolean).join(" — ")}>
          <ParameterInput spec={p} value={values[p.name]} disabled={!editable} onChange={(v) => set(p.name, v)} />
        </Field>
      ))}
    </fieldset>
  );
}

function NodeInspector({ node, nodes, entities, editable, onChange, onConnect, onDelete }) {
  const [target, setTarget] = useState("");
  const { kind, entityId } = node.data;
  const options = entities[kind] || [];
  const fn = kind === "function" ? options.find((f) => f.id === entityId) : null;
  const targets = nodes.filter((n) => n.id !== node.id && !TRIGGERS.has(n.data.kind));
  return (
    <>
      <h2>
        {kind} node <span className="mono small">{node.id}</span>
      </h2>
      <Field label={`The ${kind}`}>
        <select disabled={!editable} value={entityId || ""} onChange={(e) => onChange({ entityId: e.target.value })}>
          {!options.some((o) => o.id === entityId) && <option value={entityId || ""}>{entityId ? `${entityId} (missing)` : "choose…"}</option>}
          {options.map((o) => (
            <option key={o.id} value={o.id}>
              {o.name}
            </option>
          ))}
        </select>
      </Field>
      {entityId && (
        <p>
          <Link to={`/${PAGE[kind]}/${entityId}`}>Open this {kind}</Link>
        </p>
      )}
      <Field label="Caption" hint="Shown on the node instead of the name">
        <input disabled={!editable} value={node.data.label} onChange={(e) => onChange({ label: e.target.value })} />
      </Field>
      {kind === "function" && <Parameters key={node.id} node={node} fn={fn} editable={editable} onChange={onChange} />}
      {editable && (
        <>
          <div className="inline-form">
            <Field label="Connect to">
              <select value={target} onChange={(e) => setTarget(e.target.value)}>
                <option value="">choose a node…</option>
                {targets.map((n) => (
                  <option key={n.id} value={n.id}>
                    {n.data.kind}: {n.data.label || n.data.name || n.id}
                  </option>
                ))}
              </select>
            </Field>
            <button type="button" disabled={!target} onClick={() => onConnect(node.id, target)}>
              Connect
            </button>
          </div>
          <button type="button" className="danger" onClick={onDelete}>
            Remove node
          </button>
        </>
      )}
    </>
  );
}

export function Inspector({ node, edge, nodes, entities, editable, onChange, onConnect, onDelete }) {
  return (
    <aside className="inspector" aria-label="Selection">
      {node && (
        <NodeInspector key={node.id} node={node} nodes={nodes} entities={entities} editable={editable} onChange={onChange} onConnect={onConnect} onDelete={onDelete} />
      )}
      {edge && (
        <>
          <h2>Edge</h2>
          <p>
            {edge.source} → {edge.target}
          </p>
          {edge.data?.errors?.map((e) => (
            <p key={e} className="field-error">
              {e}
            </p>
          ))}
          {editable && (
            <button type="button" className="danger" onClick={onDelete}>
              Remove edge
            </button>
          )}
        </>
      )}
      {!node && !edge && (
        <p className="hint">
          {editable
            ? "Drag devices or labels (where uplinks come in), functions, integrations and storages onto the canvas, or use their Add buttons; connect a node's right handle to another's left one. Select a node to set it up."
            : "Select a node to see what it stands for."}
        </p>
      )}
    </aside>
  );
}
