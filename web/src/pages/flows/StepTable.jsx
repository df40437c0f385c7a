// The path of a run or a simulation, one row per node it went through.
import { duration } from "../../lib/format.js";
import { JsonView } from "../../components/JsonView.jsx";
import { StatusBadge } from "../../components/StatusBadge.jsx";

export function StepTable({ path, nameOf, label }) {
  return (
    <div className="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Status</th>
            <th scope="col">Took</th>
            <th scope="col">Output, logs, error</th>
          </tr>
        </thead>
        <tbody>
          {path.map((s) => (
            <tr key={s.node_id}>
              <td data-label="Node">
                {s.type}: {nameOf(s)}
              </td>
              <td data-label="Status">
                <StatusBadge status={s.status} />
              </td>
              <td data-label="Took">{duration(s.duration_ms)}</td>
              <td data-label="Output">
                {s.error && <p className="field-error">{s.error}</p>}
                {s.output !== undefined && (
                  <details>
                    <summary>{s.type === "integration" || s.type === "storage" ? "Message it gets" : "Output"}</summary>
                    <JsonView value={s.output} />
                  </details>
                )}
                {s.logs?.length > 0 && (
                  <details>
                    <summary>{s.logs.length} log line(s)</summary>
                    <JsonView value={s.logs} />
                  </details>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
