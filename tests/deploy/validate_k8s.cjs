// Validates rendered Kubernetes manifests (the output of `kubectl kustomize <overlay>`):
// every object against its Kubernetes (kubernetes-models) or KEDA (@kubernetes-models/keda)
// schema, unknown kinds refused, and the invariants the deploy issue asks of every service.
//
//   node validate_k8s.cjs <rendered.yaml> <overlay name> [--external-secret NAME ...]
//
// Needs NODE_PATH=<.deps/k8s-validate/node_modules> (tools/setup.sh installs it there).
// Exits 1 listing every problem found. Plain CommonJS: runs on Debian's Node 18 too.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const [file, overlay, ...rest] = process.argv.slice(2);
if (!file || !overlay) {
  console.error('usage: validate_k8s.cjs <rendered.yaml> <overlay> [--external-secret NAME ...]');
  process.exit(64);
}
const externalSecrets = new Set();
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i] !== '--external-secret' || !rest[i + 1]) { console.error(`bad argument ${rest[i]}`); process.exit(64); }
  externalSecrets.add(rest[i + 1]);
}
const sourceDir = process.env.DM_SOURCE_DIR || path.resolve(__dirname, '../..');

const problems = [];
const fail = (msg) => problems.push(msg);

// ---- every object against its schema -------------------------------------------------------
// apiVersion → module folder of its models; anything else is an unknown kind.
function modelOf(apiVersion, kind) {
  const safe = /^[A-Za-z]+$/.test(kind);
  if (!safe) return null;
  let mod;
  if (apiVersion === 'keda.sh/v1alpha1') mod = `@kubernetes-models/keda/keda.sh/v1alpha1/${kind}`;
  else if (apiVersion === 'v1') mod = `kubernetes-models/v1/${kind}`;
  else if (/^[a-z0-9.]+\/v[0-9a-z]+$/.test(apiVersion) && !apiVersion.includes('keda')) mod = `kubernetes-models/${apiVersion}/${kind}`;
  else return null;
  try {
    return require(mod)[kind] || null;
  } catch (e) {
    return null;
  }
}

const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
const objects = [];
for (const doc of docs) {
  if (doc.errors.length) { fail(`YAML: ${doc.errors[0].message}`); continue; }
  const obj = doc.toJSON();
  if (obj === null || obj === undefined) continue;
  objects.push(obj);
}
if (objects.length === 0) fail('no objects rendered');

for (const obj of objects) {
  const id = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
  // Newer kustomize folds long base64 values over lines; the API server's decoder skips the
  // line breaks, the schema's "byte" format does not: compare without them.
  if (obj.kind === 'Secret' && obj.data) {
    for (const k of Object.keys(obj.data)) if (typeof obj.data[k] === 'string') obj.data[k] = obj.data[k].replace(/\s+/g, '');
  }
  const Model = modelOf(obj.apiVersion, obj.kind);
  if (!Model) { fail(`${id}: unknown kind ${obj.apiVersion} ${obj.kind}`); continue; }
  try {
    new Model(obj).validate();
  } catch (e) {
    fail(`${id}: ${e.message}`);
  }
  if (obj.kind !== 'Namespace' && obj.metadata.namespace !== 'device-manager') {
    fail(`${id}: namespace is ${obj.metadata.namespace}, expected device-manager`);
  }
}

// ---- the invariants ---------------------------------------------------------------------------
const SERVICES = ['gateway', 'ingest', 'registry', 'flow-orchestrator', 'function-runner', 'integration-dispatcher'];
const HPA = ['gateway', 'ingest', 'function-runner'];
// Stream and durable consumer names, read from the contract's sources so they cannot drift.
function constant(file, name) {
  const text = fs.readFileSync(path.join(sourceDir, file), 'utf8');
  const m = text.match(new RegExp(`${name}\\s*=\\s*"([^"]+)"`));
  if (!m) throw new Error(`${name} not found in ${file}`);
  return m[1];
}
const KEDA = {
  'flow-orchestrator': {
    stream: constant('libs/contract/include/dm/contract/streams.hpp', 'kDeviceEventsStream'),
    consumer: constant('libs/contract/include/dm/contract/streams.hpp', 'kUplinkConsumer'),
  },
  'integration-dispatcher': {
    stream: constant('libs/contract/include/dm/contract/streams.hpp', 'kDispatchStream'),
    consumer: constant('libs/contract/include/dm/contract/streams.hpp', 'kDispatchConsumer'),
  },
};
const KEY_HOLDERS = ['gateway', 'registry'];
const PORTS = { gateway: 8000, ingest: 8001, registry: 8002, 'flow-orchestrator': 8003, 'function-runner': 8004, 'integration-dispatcher': 8005 };

const find = (kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const byKind = (kind) => objects.filter((o) => o.kind === kind);
const isSubset = (small, big) => small && big && Object.entries(small).every(([k, v]) => big[k] === v);

const configMaps = new Set(byKind('ConfigMap').map((o) => o.metadata.name));
const secrets = new Set(byKind('Secret').map((o) => o.metadata.name));
for (const s of externalSecrets) secrets.add(s);

for (const s of SERVICES) {
  const d = find('Deployment', s);
  if (!d) { fail(`Deployment ${s} missing`); continue; }
  const pod = d.spec.template.spec;
  const podLabels = d.spec.template.metadata.labels;
  if (!isSubset(d.spec.selector.matchLabels, podLabels)) fail(`Deployment ${s}: selector does not match its pod labels`);
  const psc = pod.securityContext || {};
  if (!pod.serviceAccountName || !find('ServiceAccount', pod.serviceAccountName)) fail(`Deployment ${s}: no ServiceAccount of its own`);
  if (pod.automountServiceAccountToken !== false) fail(`Deployment ${s}: service account token mounted`);
  if (!(pod.terminationGracePeriodSeconds >= 30)) fail(`Deployment ${s}: terminationGracePeriodSeconds < 30 leaves no time to drain`);
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) fail(`Deployment ${s}: uses host namespaces`);
  if (!pod.containers || pod.containers.length !== 1) fail(`Deployment ${s}: expected one container`);
  for (const c of pod.containers || []) {
    const where = `Deployment ${s} container ${c.name}`;
    const probe = (p, pathWanted, what) => {
      if (!p || !p.httpGet || p.httpGet.path !== pathWanted) fail(`${where}: ${what} must be httpGet ${pathWanted}`);
    };
    probe(c.livenessProbe, '/healthz', 'livenessProbe');
    probe(c.readinessProbe, '/readyz', 'readinessProbe');
    const port = (c.ports || []).find((p) => p.name === 'http');
    if (!port || port.containerPort !== PORTS[s]) fail(`${where}: http port must be ${PORTS[s]}`);
    const r = c.resources || {};
    for (const kind of ['requests', 'limits'])
      for (const res of ['cpu', 'memory'])
        if (!r[kind] || r[kind][res] === undefined) fail(`${where}: resources.${kind}.${res} missing`);
    const sc = c.securityContext || {};
    const eff = (k) => (sc[k] !== undefined ? sc[k] : psc[k]);
    if (eff('runAsNonRoot') !== true) fail(`${where}: runAsNonRoot not true`);
    if (!(eff('runAsUser') > 0)) fail(`${where}: runAsUser must be a non-zero uid`);
    if (sc.readOnlyRootFilesystem !== true) fail(`${where}: readOnlyRootFilesystem not true`);
    if (sc.allowPrivilegeEscalation !== false) fail(`${where}: allowPrivilegeEscalation not false`);
    if (sc.privileged) fail(`${where}: privileged`);
    const drop = (sc.capabilities && sc.capabilities.drop) || [];
    if (!drop.includes('ALL')) fail(`${where}: capabilities.drop must include ALL`);
    if (sc.capabilities && sc.capabilities.add && sc.capabilities.add.length) fail(`${where}: adds capabilities`);
    const seccomp = eff('seccompProfile');
    if (!seccomp || seccomp.type !== 'RuntimeDefault') fail(`${where}: seccompProfile must be RuntimeDefault`);
    if (!Array.isArray(c.args) || c.args[0] !== s) fail(`${where}: args must select the service (["${s}"])`);
    const envFrom = c.envFrom || [];
    const cm = envFrom.filter((e) => e.configMapRef).map((e) => e.configMapRef.name);
    const sec = envFrom.filter((e) => e.secretRef).map((e) => e.secretRef.name);
    if (cm.length === 0) fail(`${where}: no ConfigMap in envFrom`);
    if (sec.length === 0) fail(`${where}: no Secret in envFrom`);
    for (const n of cm) if (!configMaps.has(n)) fail(`${where}: ConfigMap ${n} is not rendered`);
    for (const n of sec) if (!secrets.has(n)) fail(`${where}: Secret ${n} is neither rendered nor declared external`);
    // Least privilege (docs/security.md): SECRET_KEY only where tokens are signed or secrets
    // sealed; no database credentials for the function runner, which keeps nothing.
    const names = [...(c.env || []).map((e) => e.name)];
    for (const n of [...sec, ...cm]) {
      const o = find('Secret', n) || find('ConfigMap', n);
      if (o) names.push(...Object.keys(o.data || {}), ...Object.keys(o.stringData || {}));
    }
    if (names.includes('SECRET_KEY') && !KEY_HOLDERS.includes(s)) fail(`${where}: gets SECRET_KEY, which only the gateway and the registry use`);
    if (s === 'function-runner' && names.some((k) => k.endsWith('DATABASE_URL'))) fail(`${where}: has no database, yet gets a DATABASE_URL`);
    if (overlay === 'prod' && !/[/]/.test(c.image)) fail(`${where}: prod image ${c.image} is not a registry path`);
  }
  const svc = find('Service', s);
  if (!svc) fail(`Service ${s} missing`);
  else if (!isSubset(svc.spec.selector, podLabels)) fail(`Service ${s}: selector does not match the pods`);
  const pdb = byKind('PodDisruptionBudget').find((p) => isSubset(p.spec.selector.matchLabels, podLabels));
  if (!pdb) fail(`PodDisruptionBudget for ${s} missing`);
  else if (pdb.apiVersion !== 'policy/v1') fail(`PodDisruptionBudget ${pdb.metadata.name}: apiVersion must be policy/v1`);
  const autoscaled = HPA.includes(s) || KEDA[s];
  if (autoscaled && d.spec.replicas !== undefined) fail(`Deployment ${s}: replicas set although an autoscaler owns it`);
}

for (const s of HPA) {
  const h = find('HorizontalPodAutoscaler', s);
  if (!h) { fail(`HorizontalPodAutoscaler ${s} missing`); continue; }
  if (h.apiVersion !== 'autoscaling/v2') fail(`HPA ${s}: apiVersion must be autoscaling/v2`);
  const t = h.spec.scaleTargetRef;
  if (t.kind !== 'Deployment' || t.name !== s) fail(`HPA ${s}: must target Deployment ${s}`);
  const cpu = (h.spec.metrics || []).some((m) => m.type === 'Resource' && m.resource && m.resource.name === 'cpu');
  if (!cpu) fail(`HPA ${s}: no CPU metric`);
  if (!(h.spec.minReplicas >= 1 && h.spec.maxReplicas >= h.spec.minReplicas)) fail(`HPA ${s}: bad bounds`);
}
for (const h of byKind('HorizontalPodAutoscaler'))
  if (!HPA.includes(h.metadata.name)) fail(`HPA ${h.metadata.name}: not expected (KEDA owns the JetStream workers)`);

for (const [s, want] of Object.entries(KEDA)) {
  const so = find('ScaledObject', s);
  if (!so) { fail(`ScaledObject ${s} missing`); continue; }
  if (so.spec.scaleTargetRef.name !== s) fail(`ScaledObject ${s}: must target Deployment ${s}`);
  const trig = (so.spec.triggers || []).find((t) => t.type === 'nats-jetstream');
  if (!trig) { fail(`ScaledObject ${s}: no nats-jetstream trigger`); continue; }
  const m = trig.metadata || {};
  if (m.stream !== want.stream) fail(`ScaledObject ${s}: stream ${m.stream}, the service uses ${want.stream}`);
  if (m.consumer !== want.consumer) fail(`ScaledObject ${s}: consumer ${m.consumer}, the service uses ${want.consumer}`);
  if (!m.natsServerMonitoringEndpoint || !m.lagThreshold) fail(`ScaledObject ${s}: monitoring endpoint and lagThreshold required`);
  if (!(so.spec.minReplicaCount >= 1)) fail(`ScaledObject ${s}: minReplicaCount must be >= 1 (it serves RPC too)`);
}

const counts = {};
for (const o of objects) counts[o.kind] = (counts[o.kind] || 0) + 1;
if (problems.length) {
  console.error(`${overlay}: ${problems.length} problem(s):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log(`${overlay}: ${objects.length} objects valid (${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')})`);
