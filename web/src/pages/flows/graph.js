// Flows as the API stores them ⇄ nodes and edges for React Flow. The API accepts two shapes
// (services/registry/flow_graph.cpp): ours ({type, data.entityId}) and the original React Flow
// editor's (the kind possibly only in data.nodeType, the entity in data.deviceId, labelId, …).
// Every node and edge keeps the object it was read from, so saving writes back every key the
// other editor put there, and the entity id under the key(s) it came in.

export const KINDS = ["device", "label", "function", "integration", "storage"];
export const TRIGGERS = new Set(["device", "label"]);

const entityKeys = (kind) => ["entityId", "entity_id", `${kind}Id`, `${kind}_id`];

// The kind, the entity id and the data keys that hold it, of an API node in either shape.
export function entityOf(node) {
  const data = node.data || {};
  const type = node.type || data.nodeType;
  const keys = entityKeys(type).filter((k) => data[k] !== undefined && data[k] !== null);
  return { type, entityId: keys.length ? String(data[keys[0]]).toLowerCase() : null, keys };
}

// Columns by distance from the triggers, for nodes saved without a position.
function layout(nodes, edges) {
  const depth = Object.fromEntries(nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; pass++) {
    let moved = false;
    for (const e of edges) {
      if (depth[e.source] !== undefined && depth[e.target] !== undefined && depth[e.target] < depth[e.source] + 1) {
        depth[e.target] = depth[e.source] + 1;
        moved = true;
      }
    }
    if (!moved) break;
  }
  const rows = {};
  return Object.fromEntries(
    nodes.map((n) => {
      const col = depth[n.id];
      rows[col] = (rows[col] || 0) + 1;
      return [n.id, { x: col * 240, y: (rows[col] - 1) * 120 }];
    }),
  );
}

export function toCanvas(flow) {
  const apiNodes = flow.nodes || [];
  const apiEdges = flow.edges || [];
  const edges = apiEdges.map((e, i) => ({
    id: e.id ?? `edge-${i}-${e.source}-${e.target}`,
    source: e.source,
    target: e.target,
    sourceHandle: e.sourceHandle ?? e.source_handle ?? null,
    targetHandle: e.targetHandle ?? e.target_handle ?? null,
    data: { raw: e },
  }));
  const placed = layout(apiNodes, edges);
  const nodes = apiNodes.map((n) => {
    const { type, entityId, keys } = entityOf(n);
    const p = n.position;
    const ok = p && Number.isFinite(p.x) && Number.isFinite(p.y);
    return {
      id: n.id,
      type: "dm",
      position: ok ? { x: p.x, y: p.y } : placed[n.id],
      data: {
        kind: type,
        entityId,
        entityKeys: keys,
        label: n.data?.label ?? "",
        parameters: n.data?.parameters ?? {},
        raw: n,
      },
    };
  });
  return { nodes, edges };
}

export function newNode(kind, entityId, position) {
  return {
    id: `${kind}-${Math.random().toString(36).slice(2, 8)}`,
    type: "dm",
    position,
    data: { kind, entityId, entityKeys: [], label: "", parameters: {}, raw: null },
  };
}

function apiNode(n) {
  const raw = n.data.raw || {};
  const data = { ...(raw.data || {}) };
  const keys = n.data.entityKeys.length ? n.data.entityKeys : ["entityId"];
  for (const k of keys) data[k] = n.data.entityId;
  if (n.data.label) data.label = n.data.label;
  else delete data.label;
  if (n.data.kind === "function" && (Object.keys(n.data.parameters).length || raw.data?.parameters)) {
    data.parameters = n.data.parameters;
  }
  const out = { ...raw, id: n.id, data, position: { x: Math.round(n.position.x), y: Math.round(n.position.y) } };
  // A node that named its kind only in data.nodeType keeps that shape.
  if (raw.type !== undefined || !data.nodeType) out.type = n.data.kind;
  return out;
}

function apiEdge(e) {
  const out = { ...(e.data?.raw || {}), id: e.id, source: e.source, target: e.target };
  if (e.sourceHandle) out.sourceHandle = e.sourceHandle;
  if (e.targetHandle) out.targetHandle = e.targetHandle;
  return out;
}

// The nodes and edges to send (PUT /flows/{id}), in the canvas's order: a 422 names them by
// their position in these arrays.
export function toApi(nodes, edges) {
  return { nodes: nodes.map(apiNode), edges: edges.map(apiEdge) };
}

// The 422 of a save, sorted onto what it names: {nodes: {id: [msg]}, edges: {id: [msg]}, other: [msg]}.
export function errorsByElement(fields, nodes, edges) {
  const out = { nodes: {}, edges: {}, other: [] };
  for (const f of fields) {
    const loc = (f.loc || []).filter((p) => p !== "body");
    const where = loc.slice(2).join(".");
    const msg = where ? `${where}: ${f.msg}` : f.msg;
    const list = loc[0] === "nodes" ? nodes : loc[0] === "edges" ? edges : null;
    const item = list && loc.length > 1 ? list[Number(loc[1])] : null;
    if (item) (out[loc[0]][item.id] ||= []).push(msg);
    else out.other.push(loc.length ? `${loc.join(".")}: ${f.msg}` : f.msg);
  }
  return out;
}
