// Checks deploy/docker-compose.yml without Docker: it parses (anchors and merge keys
// resolved as compose does), every service has an image and a restart policy, the six
// services and the infrastructure have health checks, depends_on names existing services
// with valid conditions (service_healthy only on services with a health check), every bind
// mount's source exists, named volumes are declared, every ${VAR} it reads is documented
// in deploy/.env.example, and each service gets only the secrets it uses (SECRET_KEY only the
// gateway and the registry, no database URL the function runner).
//
//   node validate_compose.cjs <deploy dir>
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const dir = process.argv[2];
if (!dir) { console.error('usage: validate_compose.cjs <deploy dir>'); process.exit(64); }
const file = path.join(dir, 'docker-compose.yml');
const text = fs.readFileSync(file, 'utf8');
const problems = [];
const fail = (m) => problems.push(m);

const doc = YAML.parseDocument(text, { merge: true });
if (doc.errors.length) { console.error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`); process.exit(1); }
const compose = doc.toJS({ maxAliasCount: 1000 });
const services = compose.services || {};
const SIX = ['gateway', 'ingest', 'registry', 'flow-orchestrator', 'function-runner', 'integration-dispatcher'];
const INFRA = ['nats-1', 'nats-2', 'nats-3', 'postgres', 'mosquitto'];
for (const s of [...SIX, ...INFRA, 'provision']) if (!services[s]) fail(`service ${s} missing`);

const volumes = new Set(Object.keys(compose.volumes || {}));
for (const [name, svc] of Object.entries(services)) {
  if (!svc.image) fail(`${name}: no image`);
  if (!svc.restart) fail(`${name}: no restart policy`);
  const hc = svc.healthcheck;
  if ((SIX.includes(name) || INFRA.includes(name)) && !(hc && Array.isArray(hc.test) && hc.test.length > 1)) {
    fail(`${name}: no health check`);
  }
  if (SIX.includes(name)) {
    const probe = hc && hc.test.join(' ');
    if (!probe || !/\/(readyz|healthz)\b/.test(probe)) fail(`${name}: health check must ask /readyz or /healthz`);
    if (!svc.command || svc.command[0] !== name) fail(`${name}: command must select the service (["${name}"])`);
    if (!svc.read_only) fail(`${name}: root file system not read-only`);
    if (!(svc.cap_drop || []).includes('ALL')) fail(`${name}: capabilities not dropped`);
    const env = svc.environment || {};
    if (!env.NATS_URL || !env.NATS_USER || !env.NATS_PASSWORD) fail(`${name}: NATS_URL, NATS_USER, NATS_PASSWORD required`);
    const scope = { gateway: 'GATEWAY', ingest: 'INGEST', registry: 'REGISTRY', 'flow-orchestrator': 'ORCHESTRATOR',
      'function-runner': 'RUNNER', 'integration-dispatcher': 'DISPATCHER' }[name];
    // Least privilege (docs/security.md): the function runner keeps nothing in PostgreSQL and
    // gets no database URL; SECRET_KEY only where tokens are signed or secrets sealed.
    const urls = Object.keys(env).filter((k) => k.endsWith('DATABASE_URL'));
    if (name === 'function-runner') {
      if (urls.length) fail(`${name}: has no database, yet gets ${urls.join(', ')}`);
    } else if (!env[`${scope}_DATABASE_URL`]) fail(`${name}: ${scope}_DATABASE_URL missing`);
    else if (!String(env[`${scope}_DATABASE_URL`]).startsWith(`postgresql://dm_${scope.toLowerCase()}:`)) {
      fail(`${name}: must connect as its own role dm_${scope.toLowerCase()}`);
    }
    const needsKey = name === 'gateway' || name === 'registry';
    if (needsKey && !env.SECRET_KEY) fail(`${name}: SECRET_KEY missing`);
    if (!needsKey && 'SECRET_KEY' in env) fail(`${name}: must not get SECRET_KEY (only the gateway and the registry use it)`);
  }
  const deps = svc.depends_on || {};
  for (const [dep, cond] of Object.entries(Array.isArray(deps) ? Object.fromEntries(deps.map((d) => [d, {}])) : deps)) {
    if (!services[dep]) { fail(`${name}: depends on unknown service ${dep}`); continue; }
    const c = cond && cond.condition;
    if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(c)) fail(`${name}: depends_on ${dep} without a valid condition`);
    if (c === 'service_healthy' && !services[dep].healthcheck) fail(`${name}: waits for ${dep} to be healthy but it has no health check`);
  }
  for (const v of svc.volumes || []) {
    const src = String(v).split(':')[0];
    if (src.startsWith('.') || src.startsWith('/')) {
      if (!fs.existsSync(path.resolve(dir, src))) fail(`${name}: bind mount source ${src} does not exist`);
    } else if (!volumes.has(src)) fail(`${name}: named volume ${src} not declared`);
  }
  if (svc.build) {
    const ctx = path.resolve(dir, svc.build.context || '.');
    if (!fs.existsSync(path.join(ctx, svc.build.dockerfile || 'Dockerfile'))) fail(`${name}: Dockerfile not found`);
  }
}

// Variables read by compose (${VAR}, ${VAR:-x}, ${VAR:?x}); $$ is a literal dollar.
const documented = new Set(
  fs.readFileSync(path.join(dir, '.env.example'), 'utf8').split('\n')
    .map((l) => l.match(/^([A-Z][A-Z0-9_]*)=/)).filter(Boolean).map((m) => m[1]));
const used = new Set([...text.replace(/\$\$/g, '').matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
for (const v of used) if (!documented.has(v)) fail(`\${${v}} is not documented in .env.example`);
for (const v of documented) if (!used.has(v)) fail(`.env.example documents ${v}, which docker-compose.yml never reads`);

if (problems.length) {
  console.error(`docker-compose.yml: ${problems.length} problem(s):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log(`docker-compose.yml: ${Object.keys(services).length} services valid, ${used.size} variables documented`);
