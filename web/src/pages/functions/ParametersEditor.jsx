// A function's declared parameters: name, type, default, required, description.
import { Field } from "../../components/Field.jsx";

const TYPES = ["string", "number", "integer", "boolean", "object", "array"];

function defaultText(p) {
  if (p.default === undefined || p.default === null) return "";
  return typeof p.default === "string" ? p.default : JSON.stringify(p.default);
}

// The default as its type wants it; text that is not valid for the type is kept as a string
// (the API then names the problem on the field).
function parseDefault(type, text) {
  if (text === "") return undefined;
  if (type === "string") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function ParametersEditor({ parameters, onChange, errorOf, disabled }) {
  const set = (i, change) => onChange(parameters.map((p, j) => (i === j ? { ...p, ...change } : p)));
  return (
    <fieldset className="parameters">
      <legend>Parameters</legend>
      {parameters.length === 0 && <p className="hint">None: flows pass an empty object.</p>}
      {parameters.map((p, i) => (
        <div className="parameter" key={i} role="group" aria-label={`Parameter ${i + 1}`}>
          <Field label="Name" error={errorOf(`parameters.${i}.name`)}>
            <input disabled={disabled} value={p.name} onChange={(e) => set(i, { name: e.target.value })} />
          </Field>
          <Field label="Type" error={errorOf(`parameters.${i}.type`)}>
            <select disabled={disabled} value={p.type || "string"} onChange={(e) => set(i, { type: e.target.value })}>
              {TYPES.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </Field>
          <Field label="Default" error={errorOf(`parameters.${i}.default`)}>
            <input disabled={disabled} value={defaultText(p)} onChange={(e) => set(i, { default: parseDefault(p.type || "string", e.target.value) })} />
          </Field>
          <Field label="Required" className="check">
            <input type="checkbox" disabled={disabled} checked={Boolean(p.required)} onChange={(e) => set(i, { required: e.target.checked })} />
          </Field>
          <Field label="Description" className="wide">
            <input disabled={disabled} value={p.description || ""} onChange={(e) => set(i, { description: e.target.value })} />
          </Field>
          {!disabled && (
            <button type="button" className="small" onClick={() => onChange(parameters.filter((_, j) => j !== i))}>
              Remove
            </button>
          )}
        </div>
      ))}
      {!disabled && (
        <button type="button" onClick={() => onChange([...parameters, { name: "", type: "string", required: false }])}>
          Add parameter
        </button>
      )}
    </fieldset>
  );
}
