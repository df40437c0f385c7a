// A sample uplink through the saved flow (POST /flows/{id}/simulate): functions run for real,
// integrations and storages are not called; each step's output is shown and coloured on the canvas.
import { useState } from "react";
import { post } from "../../lib/api.js";
import { duration } from "../../lib/format.js";
import { useAction } from "../../lib/hooks.js";
import { Field } from "../../components/Field.jsx";
import { ErrorNotice } from "../../components/States.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";
import { StepTable } from "./StepTable.jsx";

function sampleFor(flow, devices) {
  const trigger = (flow.nodes || []).find((n) => (n.type || n.data?.nodeType) === "device");
  const id = trigger && (trigger.data.entityId || trigger.data.deviceId || trigger.data.entity_id || trigger.data.device_id);
  const device = devices.find((d) => d.id === id);
  return JSON.stringify({ ...(device ? { dev_eui: device.dev_eui } : {}), f_port: 1, data: { temperature: 21.5, humidity: 48 } }, null, 2);
}

export function SimulatePanel({ flow, devices, dirty, nameOf, onResult }) {
  const [text, setText] = useState(() => sampleFor(flow, devices));
  const [result, setResult] = useState(null);
  const { error, setError, busy, act } = useAction();
  function run(e) {
    e.preventDefault();
    let sample;
    try {
      sample = JSON.parse(text);
    } catch (x) {
      // Said at once, without a busy moment: nothing was sent.
      setError(new Error(`The sample is not JSON: ${x.message}`));
      return;
    }
    act(async () => {
      const r = await post(`/flows/${flow.id}/simulate`, sample);
      setResult(r);
      onResult(r.path);
    });
  }
  return (
    <div className="simulate">
      <form onSubmit={run} aria-label="Simulate">
        <Field label="Sample uplink (JSON)" hint="data is the decoded uplink; dev_eui or device_id supplies the device's name and labels. Nothing is recorded or delivered.">
          <textarea className="mono" rows={8} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
        </Field>
        {dirty && <p className="hint warn">The simulation runs the saved flow: save your changes first.</p>}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Simulating…" : "Simulate"}
        </button>
      </form>
      <ErrorNotice error={error} />
      {result && (
        <section aria-label="Simulation result">
          <p>
            <StatusBadge status={result.status} /> in {duration(result.duration_ms)}, entering at node {result.trigger_node}
          </p>
          <StepTable path={result.path} nameOf={nameOf} label="Simulation steps" />
        </section>
      )}
    </div>
  );
}
