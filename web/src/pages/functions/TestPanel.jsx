// Runs code on a sample input without touching any history: the saved function
// (POST /functions/{id}/test) or, when the editor holds changes, the editor's code
// (POST /functions/test). Shows output, console logs, the error and the time it took.
import { useState } from "react";
import { post } from "../../lib/api.js";
import { duration } from "../../lib/format.js";
import { useAction } from "../../lib/hooks.js";
import { Field } from "../../components/Field.jsx";
import { JsonView } from "../../components/JsonView.jsx";
import { ErrorNotice } from "../../components/States.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

const SAMPLE = { dev_eui: "0004a30b001c0530", f_port: 1, data: { temperature: 21.5, humidity: 48 } };

function defaults(parameters) {
  return Object.fromEntries(parameters.filter((p) => p.default !== undefined && p.default !== null).map((p) => [p.name, p.default]));
}

function parse(text, what) {
  try {
    return JSON.parse(text || "{}");
  } catch (x) {
    throw new Error(`${what} is not JSON: ${x.message}`);
  }
}

export function TestPanel({ fn, code, parameters, saved }) {
  const [input, setInput] = useState(JSON.stringify(SAMPLE, null, 2));
  const [params, setParams] = useState(JSON.stringify(defaults(parameters), null, 2));
  const [result, setResult] = useState(null);
  const { error, busy, act } = useAction();
  function run(e) {
    e.preventDefault();
    act(async () => {
      try {
        const body = { input: parse(input, "The input"), parameters: parse(params, "The parameters") };
        setResult(saved ? await post(`/functions/${fn.id}/test`, body) : await post("/functions/test", { ...body, code }));
      } catch (x) {
        setResult(null); // no earlier result beside this error
        throw x;
      }
    });
  }
  return (
    <div className="test-panel">
      <form onSubmit={run} aria-label="Test the function" className="grid-2">
        <Field label="Input message (JSON)">
          <textarea className="mono" rows={9} spellCheck={false} value={input} onChange={(e) => setInput(e.target.value)} />
        </Field>
        <Field label="Parameters (JSON)">
          <textarea className="mono" rows={9} spellCheck={false} value={params} onChange={(e) => setParams(e.target.value)} />
        </Field>
        <div className="buttons">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Running…" : saved ? "Test" : "Test the code in the editor"}
          </button>
          {!saved && <span className="hint">Unsaved code is tested as it is in the editor.</span>}
        </div>
      </form>
      <ErrorNotice error={error} />
      {result && (
        <section aria-label="Test result" className="test-result">
          <p>
            <StatusBadge status={result.status} /> in {duration(result.duration_ms)}
          </p>
          {result.error && (
            <div className="state error" role="alert">
              <strong>{result.error.message}</strong>
              {result.error.stack && <pre className="json">{result.error.stack}</pre>}
            </div>
          )}
          <h3>Output</h3>
          <JsonView value={result.output} label="Output" />
          <h3>Logs</h3>
          {result.logs?.length ? <JsonView value={result.logs} label="Logs" /> : <p className="hint">No console output.</p>}
        </section>
      )}
    </div>
  );
}
