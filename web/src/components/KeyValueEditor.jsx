// Name/value rows (HTTP headers, InfluxDB tags and fields), kept as [name, value] pairs while
// edited (toPairs / fromPairs convert). A value the API masked (********) is a stored secret:
// kept while left as it is.
import { Field } from "./Field.jsx";

export const MASK = "********";

export const toPairs = (object) => Object.entries(object || {});
export const fromPairs = (pairs) => Object.fromEntries(pairs.filter(([k]) => k.trim() !== ""));

export function KeyValueEditor({ legend, rows, onChange, keyLabel = "Name", valueLabel = "Value", errorOf, disabled, secretHint }) {
  const edit = (i, pair) => onChange(rows.map((r, j) => (j === i ? pair : r)));
  return (
    <fieldset className="key-values">
      <legend>{legend}</legend>
      {rows.length === 0 && <p className="hint">None.</p>}
      {rows.map(([k, v], i) => (
        <div key={i} className="key-value" role="group" aria-label={`${legend} ${i + 1}`}>
          <Field label={keyLabel}>
            <input disabled={disabled} value={k} onChange={(e) => edit(i, [e.target.value, v])} />
          </Field>
          <Field label={valueLabel} error={errorOf?.(k)} hint={v === MASK ? secretHint : undefined}>
            <input disabled={disabled} type={v === MASK ? "password" : "text"} value={v} onChange={(e) => edit(i, [k, e.target.value])} />
          </Field>
          {!disabled && (
            <button type="button" className="small" onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              Remove
            </button>
          )}
        </div>
      ))}
      {!disabled && (
        <button type="button" onClick={() => onChange([...rows, ["", ""]])}>
          Add
        </button>
      )}
    </fieldset>
  );
}
