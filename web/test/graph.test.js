// Flows read from the API and written back (node --test): both shapes the registry accepts
// survive the round trip with every key they had, and a 422 lands on the node or edge it names.
import assert from "node:assert/strict";
import { test } from "node:test";
import { entityOf, errorsByElement, newNode, toApi, toCanvas } from "../src/pages/flows/graph.js";

const DEVICE = "9b2f1c3e-5d4a-4e8b-a1c2-0f9e8d7c6b5a";
const FUNCTION = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

test("our shape: type and data.entityId, positions kept", () => {
  const flow = {
    nodes: [
      { id: "d", type: "device", data: { entityId: DEVICE }, position: { x: 10, y: 20 } },
      { id: "f", type: "function", data: { entityId: FUNCTION, parameters: { factor: 2 } }, position: { x: 300, y: 20 } },
    ],
    edges: [{ id: "e1", source: "d", target: "f" }],
  };
  const canvas = toCanvas(flow);
  assert.equal(canvas.nodes[1].data.kind, "function");
  assert.deepEqual(canvas.nodes[1].data.parameters, { factor: 2 });
  assert.deepEqual(toApi(canvas.nodes, canvas.edges), flow);
});

test("the original React Flow shape: kind in data.nodeType, entity in data.deviceId, extra keys kept", () => {
  const flow = {
    nodes: [
      { id: "n1", data: { nodeType: "device", deviceId: DEVICE.toUpperCase(), label: "Greenhouse", color: "#0f0" }, position: { x: 0, y: 0 }, width: 150, selected: false },
      { id: "n2", type: "function", data: { functionId: FUNCTION, entityId: FUNCTION }, position: { x: 200, y: 0 } },
    ],
    edges: [{ id: "reactflow__edge-n1-n2", source: "n1", target: "n2", sourceHandle: null, animated: true }],
  };
  const canvas = toCanvas(flow);
  assert.equal(canvas.nodes[0].data.kind, "device");
  assert.equal(canvas.nodes[0].data.entityId, DEVICE);
  assert.equal(canvas.nodes[0].data.label, "Greenhouse");
  // The user picks another function: both keys that named it follow.
  canvas.nodes[1].data.entityId = DEVICE;
  const back = toApi(canvas.nodes, canvas.edges);
  assert.equal(back.nodes[0].type, undefined);
  assert.equal(back.nodes[0].data.nodeType, "device");
  assert.equal(back.nodes[0].data.deviceId, DEVICE);
  assert.equal(back.nodes[0].data.color, "#0f0");
  assert.equal(back.nodes[0].width, 150);
  assert.equal(back.nodes[1].data.functionId, DEVICE);
  assert.equal(back.nodes[1].data.entityId, DEVICE);
  assert.equal(back.edges[0].animated, true);
  assert.equal(back.edges[0].sourceHandle, null);
});

test("nodes without positions are laid out by distance from the triggers", () => {
  const canvas = toCanvas({
    nodes: [
      { id: "i", type: "integration", data: { entityId: FUNCTION } },
      { id: "d", type: "device", data: { entityId: DEVICE } },
      { id: "f", type: "function", data: { entityId: FUNCTION } },
    ],
    edges: [
      { source: "d", target: "f" },
      { source: "f", target: "i" },
    ],
  });
  const x = Object.fromEntries(canvas.nodes.map((n) => [n.id, n.position.x]));
  assert.ok(x.d < x.f && x.f < x.i);
});

test("new nodes and the API's 422 sorted onto nodes and edges", () => {
  const n = newNode("storage", DEVICE, { x: 1, y: 2 });
  assert.deepEqual(toApi([n], []).nodes[0], { id: n.id, type: "storage", data: { entityId: DEVICE }, position: { x: 1, y: 2 } });
  const nodes = [{ id: "a" }, { id: "b" }];
  const edges = [{ id: "e" }];
  const found = errorsByElement(
    [
      { loc: ["body", "nodes", 1, "data", "entityId"], msg: "Field required" },
      { loc: ["body", "edges", 0, "target"], msg: "Node 'a' is a device trigger" },
      { loc: ["body", "name"], msg: "Field required" },
    ],
    nodes,
    edges,
  );
  assert.deepEqual(found.nodes, { b: ["data.entityId: Field required"] });
  assert.deepEqual(found.edges, { e: ["target: Node 'a' is a device trigger"] });
  assert.deepEqual(found.other, ["name: Field required"]);
  assert.deepEqual(entityOf({ data: { nodeType: "label", label_id: DEVICE } }), { type: "label", entityId: DEVICE, keys: ["label_id"] });
});
