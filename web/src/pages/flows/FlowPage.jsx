// The flow editor (React Flow): the graph, a palette to add to it, an inspector for what is
// selected, save (the API's 422 shown on the node or edge it names), enable or disable,
// delete, and below it the simulation and the run history. Loaded on first use.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  addEdge,
  Background,
  Controls,
  ReactFlow,
  ReactFlowProvider,
  useEdgesState,
  useNodesInitialized,
  useNodesState,
  useReactFlow,
} from "@xyflow/react";
import { ApiError, del, get, patch, put } from "../../lib/api.js";
import { canEdit, useMe } from "../../lib/auth.js";
import { useAll, useAsync } from "../../lib/hooks.js";
import { navigate } from "../../lib/router.js";
import { ConfirmButton } from "../../components/ConfirmButton.jsx";
import { PageHeader } from "../../components/PageHeader.jsx";
import { ErrorNotice, Pending } from "../../components/States.jsx";
import { Tabs } from "../../components/Tabs.jsx";
import { useToast } from "../../components/Toasts.jsx";
import { FlowNode } from "./FlowNode.jsx";
import { FlowRuns } from "./FlowRuns.jsx";
import { errorsByElement, newNode, toApi, toCanvas, TRIGGERS } from "./graph.js";
import { Inspector } from "./Inspector.jsx";
import { DRAG_TYPE, Palette } from "./Palette.jsx";
import { SimulatePanel } from "./SimulatePanel.jsx";

const nodeTypes = { dm: FlowNode };
const NO_ERRORS = { nodes: {}, edges: {}, other: [] };

function useEntities() {
  const all = {
    device: useAll("devices"),
    label: useAll("labels"),
    function: useAll("functions"),
    integration: useAll("integrations"),
    storage: useAll("storages"),
  };
  const entities = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.data || []]));
  return entities;
}

function Editor({ flow, onSaved }) {
  const me = useMe();
  const editable = canEdit(me);
  const toast = useToast();
  const { screenToFlowPosition, fitView } = useReactFlow();
  const measured = useNodesInitialized();
  const refit = useRef(false); // a node was added by its button: show the whole graph again
  const initial = useMemo(() => toCanvas(flow), [flow]);
  const [nodes, setNodes, onNodesChange] = useNodesState(initial.nodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState(initial.edges);
  const [name, setName] = useState(flow.name);
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState(NO_ERRORS);
  const [saveError, setSaveError] = useState(null);
  const [steps, setSteps] = useState(null); // node id → status, from a simulation or a run
  const entities = useEntities();

  const names = useMemo(
    () => Object.fromEntries(Object.entries(entities).map(([k, list]) => [k, Object.fromEntries(list.map((x) => [x.id, x.name]))])),
    [entities],
  );
  const nameOf = useCallback((step) => names[step.type]?.[step.entity_id] || step.node_id, [names]);
  const showPath = useCallback((path) => setSteps(path ? Object.fromEntries(path.map((s) => [s.node_id, s.status])) : null), []);
  const changed = () => setDirty(true);

  const shownNodes = useMemo(
    () =>
      nodes.map((n) => ({
        ...n,
        data: { ...n.data, name: names[n.data.kind]?.[n.data.entityId], status: steps?.[n.id], errors: errors.nodes[n.id] },
      })),
    [nodes, names, steps, errors],
  );
  const shownEdges = useMemo(
    () =>
      edges.map((e) =>
        errors.edges[e.id]
          ? { ...e, className: "invalid", label: errors.edges[e.id].join("; "), data: { ...e.data, errors: errors.edges[e.id] } }
          : e,
      ),
    [edges, errors],
  );
  const selectedNode = shownNodes.find((n) => n.selected);
  const selectedEdge = !selectedNode && shownEdges.find((e) => e.selected);

  const connect = useCallback(
    (c) => {
      setEdges((eds) => addEdge({ ...c, id: `edge-${c.source}-${c.target}-${Date.now().toString(36)}`, data: { raw: null } }, eds));
      setDirty(true);
    },
    [setEdges],
  );
  const validConnection = useCallback(
    (c) => c.source !== c.target && !TRIGGERS.has(nodes.find((n) => n.id === c.target)?.data.kind),
    [nodes],
  );
  useEffect(() => {
    if (refit.current && measured) {
      refit.current = false;
      fitView({ duration: 200, maxZoom: 1.2 });
    }
  }, [measured, nodes.length, fitView]);
  // Dropped where the pointer is, or (added by its button) right of the last node.
  const add = (kind, entityId, position) => {
    const last = nodes[nodes.length - 1];
    const at = position || (last ? { x: last.position.x + 240, y: last.position.y } : { x: 0, y: 0 });
    refit.current = !position;
    const node = newNode(kind, entityId, at);
    setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), { ...node, selected: true }]);
    changed();
  };
  const updateNode = (id, change) => {
    setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, ...change } } : n)));
    changed();
  };
  const removeSelected = () => {
    if (selectedNode) {
      setNodes((ns) => ns.filter((n) => n.id !== selectedNode.id));
      setEdges((es) => es.filter((e) => e.source !== selectedNode.id && e.target !== selectedNode.id));
    } else if (selectedEdge) {
      setEdges((es) => es.filter((e) => e.id !== selectedEdge.id));
    }
    changed();
  };

  async function save() {
    setSaveError(null);
    const body = { name, ...toApi(nodes, edges) };
    try {
      const saved = await put(`/flows/${flow.id}`, body);
      setErrors(NO_ERRORS);
      setDirty(false);
      toast("Flow saved");
      onSaved(saved);
    } catch (x) {
      if (x instanceof ApiError && x.status === 422) {
        const found = errorsByElement(x.fields, nodes, edges);
        setErrors(found);
        setSaveError(new Error(`Not saved: ${x.fields.length} problem(s), shown on the nodes and edges they concern. ${found.other.join("; ")}`));
      } else {
        setSaveError(x);
      }
    }
  }

  async function toggle() {
    try {
      onSaved(await patch(`/flows/${flow.id}`, { enabled: !flow.enabled }));
      toast(flow.enabled ? "Flow disabled" : "Flow enabled");
    } catch (x) {
      setSaveError(x);
    }
  }

  return (
    <>
      <PageHeader title={flow.name} sub={`${flow.enabled ? "Enabled" : "Disabled"} · version ${flow.version}${dirty ? " · unsaved changes" : ""}`}>
        {editable && (
          <>
            <label className="inline">
              <span className="sr-only">Flow name</span>
              <input aria-label="Flow name" value={name} onChange={(e) => { setName(e.target.value); changed(); }} />
            </label>
            <button type="button" className="primary" onClick={save} disabled={!dirty}>
              Save
            </button>
            <button type="button" onClick={toggle} disabled={dirty} title={dirty ? "Save your changes first" : undefined}>
              {flow.enabled ? "Disable" : "Enable"}
            </button>
            <ConfirmButton confirm={`Delete ${flow.name}?`} onConfirm={() => del(`/flows/${flow.id}`).then(() => navigate("/flows"), setSaveError)}>
              Delete
            </ConfirmButton>
          </>
        )}
      </PageHeader>
      <ErrorNotice error={saveError} />
      <div className={`flow-editor ${editable ? "" : "read-only"}`}>
        {editable && <Palette entities={entities} onAdd={(kind, id) => add(kind, id)} />}
        <div
          className="canvas"
          onDragOver={(e) => {
            if (editable && e.dataTransfer.types.includes(DRAG_TYPE)) e.preventDefault();
          }}
          onDrop={(e) => {
            const what = e.dataTransfer.getData(DRAG_TYPE);
            if (!editable || !what) return;
            e.preventDefault();
            const { kind, entityId } = JSON.parse(what);
            add(kind, entityId, screenToFlowPosition({ x: e.clientX, y: e.clientY }));
          }}
        >
          <ReactFlow
            nodes={shownNodes}
            edges={shownEdges}
            nodeTypes={nodeTypes}
            onNodesChange={(c) => {
              onNodesChange(c);
              if (c.some((x) => x.type === "position" || x.type === "remove")) changed();
            }}
            onEdgesChange={(c) => {
              onEdgesChange(c);
              if (c.some((x) => x.type === "remove")) changed();
            }}
            onConnect={connect}
            isValidConnection={validConnection}
            nodesDraggable={editable}
            nodesConnectable={editable}
            deleteKeyCode={editable ? ["Backspace", "Delete"] : null}
            fitView
            fitViewOptions={{ maxZoom: 1.2 }}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
        <Inspector
          node={selectedNode}
          edge={selectedEdge}
          nodes={shownNodes}
          entities={entities}
          editable={editable}
          onChange={(change) => updateNode(selectedNode.id, change)}
          onConnect={(source, target) => connect({ source, target, sourceHandle: null, targetHandle: null })}
          onDelete={removeSelected}
        />
      </div>
      <Tabs
        label="Flow"
        tabs={[
          { id: "runs", label: "Runs", render: () => <FlowRuns flow={flow} nameOf={nameOf} onSelect={showPath} /> },
          ...(editable
            ? [{ id: "simulate", label: "Simulate", render: () => <SimulatePanel flow={flow} devices={entities.device} dirty={dirty} nameOf={nameOf} onResult={showPath} /> }]
            : []),
        ]}
      />
    </>
  );
}

export default function FlowPage({ id }) {
  const flow = useAsync(() => get(`/flows/${id}`), [id]);
  if (!flow.data) return <Pending load={flow} />;
  return (
    <ReactFlowProvider>
      <Editor key={flow.data.version} flow={flow.data} onSaved={flow.setData} />
    </ReactFlowProvider>
  );
}
