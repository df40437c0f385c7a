// One node on the canvas: its kind, the entity it stands for, and what the last simulation or
// the selected run did there; validation errors from the API are shown on the node they name.
import { Handle, Position } from "@xyflow/react";
import { TRIGGERS } from "./graph.js";

const KIND_LABEL = { device: "Device", label: "Label", function: "Function", integration: "Integration", storage: "Storage" };

export function FlowNode({ data, selected }) {
  const { kind, name, entityId, label, status, errors } = data;
  return (
    <div
      className={`flow-node kind-${kind} ${selected ? "selected" : ""} ${errors?.length ? "invalid" : ""} ${status ? `step-${status}` : ""}`}
      aria-label={`${KIND_LABEL[kind] || kind} ${name || entityId || "(none)"}${status ? `, ${status}` : ""}${errors?.length ? `, ${errors.length} problem(s)` : ""}`}
    >
      {!TRIGGERS.has(kind) && <Handle type="target" position={Position.Left} />}
      <div className="flow-node-kind">{KIND_LABEL[kind] || kind}</div>
      <div className="flow-node-name">{label || name || (entityId ? `${entityId.slice(0, 8)}… (missing)` : "choose one")}</div>
      {status && <div className="flow-node-status">{status}</div>}
      {errors?.map((e) => (
        <div key={e} className="flow-node-error" role="alert">
          {e}
        </div>
      ))}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}
