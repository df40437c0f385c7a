// Drives the console in headless Chromium (puppeteer-core) the way an operator would, against the
// stack console_test.sh started: log in, create a device, a function (and test it), an integration
// to the receiver and a flow drawn in the editor; post webhooks; see the device turn online live,
// the runs in the flow's history and the deliveries at the receiver; a viewer sees no edit
// controls. Each page is also checked with axe-core (WCAG 2 A and AA, and axe's best practices:
// labels, names, contrast, headings, landmarks). Every wait is for a condition, never a fixed time.
//
// Environment: BASE_URL, INGEST_URL, INGEST_SECRET, SINK_URL, ADMIN_USER, ADMIN_PASSWORD,
// PROFILE_DIR; DM_SCREENSHOTS=<folder> also saves a PNG of each page there.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const puppeteer = require("puppeteer-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const env = process.env;
const BASE = env.BASE_URL;
const started = Date.now();
const DEV_EUI = "70b3d57ed0001234";
const DEVICE = "greenhouse-7";
const FUNCTION = "to-fahrenheit";
const INTEGRATION = "receiver";
const FLOW = "greenhouse alerts";
const shots = env.DM_SCREENSHOTS ? resolve(env.DM_SCREENSHOTS) : null;

function ok(what) {
  console.log(`ok: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

// axe-core runs through the DevTools protocol, which the page's Content-Security-Policy does not
// govern (the console allows no inline script).
async function audit(page, name) {
  await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() =>
    window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "best-practice"] }),
  );
  if (violations.length) {
    const found = violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    throw new Error(`accessibility problems on ${name}:\n  ${found.join("\n  ")}`);
  }
}

async function shot(page, name, fullPage = false) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  // The pictures are for the README: without the passing "saved" notes.
  const hide = await page.addStyleTag({ content: ".toasts { display: none; }" });
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage });
  await hide.evaluate((el) => el.remove());
}

const aria = (name, role) => `::-p-aria([name="${name}"]${role ? `[role="${role}"]` : ""})`;
const click = (page, name, role = "button") => page.locator(aria(name, role)).click();
const fill = (page, name, value, role = "textbox") => page.locator(aria(name, role)).fill(value);
const heading = (page, text) =>
  page.waitForFunction((t) => document.querySelector("main h1")?.textContent === t, {}, text);
const seeText = (page, text, root = "main") =>
  page.waitForFunction((t, r) => document.querySelector(r)?.innerText.includes(t), {}, text, root);

// A table row (its whole text) that contains `text`, in the table labelled `table`.
const rowWith = (page, table, text) =>
  page.waitForFunction(
    (t, x) => [...document.querySelectorAll(`table[aria-label="${t}"] tbody tr`)].find((r) => r.innerText.includes(x))?.innerText,
    {},
    table,
    text,
  );

async function uplink(n) {
  const body = {
    deduplicationId: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    time: new Date().toISOString(),
    deviceInfo: { deviceName: DEVICE, devEui: DEV_EUI },
    fPort: 2,
    fCnt: n,
    data: "qg==",
    object: { temperature: 20 + n, humidity: 50 + n },
    rxInfo: [{ gatewayId: "0016c001f153a14c", rssi: -40 - n, snr: 9.5 }],
  };
  const res = await fetch(`${env.INGEST_URL}/api/v1/ingest/chirpstack?event=up`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${env.INGEST_SECRET}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
}

async function sinkStats() {
  return (await fetch(`${env.SINK_URL}/_sink/stats`)).json();
}

async function until(what, check, timeout = 30000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100)); // polling a condition, not waiting a fixed time
  }
}

// CodeMirror takes a paste as the user's own: no auto-closed brackets or indentation added.
async function replaceCode(page, code) {
  await page.locator(".cm-content").click();
  await page.keyboard.down("Control");
  await page.keyboard.press("a");
  await page.keyboard.up("Control");
  await page.$eval(
    ".cm-content",
    (el, text) => {
      const data = new DataTransfer();
      data.setData("text/plain", text);
      el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    },
    code,
  );
}

// Drags from one node's output handle to another's input handle, as a user draws an edge.
async function connect(page, from, to) {
  const handle = async (name, kind) => {
    const node = await page.waitForFunction(
      (n) => [...document.querySelectorAll(".react-flow__node")].find((x) => x.innerText.includes(n)),
      {},
      name,
    );
    const box = await (await node.$(`.react-flow__handle.${kind}`)).boundingBox();
    return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  };
  // Adding a node refits the view with a 200 ms animation once the node is measured: handles
  // read during it move before the drag ends, and the drag becomes a click on a node. So the
  // drag starts once both handles have stayed put for three reads 100 ms apart.
  let a, b, same = 0;
  for (const deadline = Date.now() + 10000; same < 3; ) {
    const [x, y] = [await handle(from, "source"), await handle(to, "target")];
    same = a && JSON.stringify([a, b]) === JSON.stringify([x, y]) ? same + 1 : 1;
    [a, b] = [x, y];
    if (Date.now() > deadline) throw new Error(`the handles of ${from} and ${to} kept moving`);
    if (same < 3) await new Promise((r) => setTimeout(r, 100));
  }
  const edges = await page.$$eval(".react-flow__edge", (e) => e.length);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x, b.y, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((n) => document.querySelectorAll(".react-flow__edge").length === n + 1, {}, edges);
}

async function firstLoad(page) {
  await page.goto(`${BASE}/`, { waitUntil: "load" });
  // From the start of navigation until the login form can be used.
  const ms = await page.waitForFunction(() => document.querySelector("input[name=username]") && performance.now(), { polling: "raf" });
  const bytes = await page.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((r) => r.name.includes("/assets/"))
      .reduce((n, r) => n + r.transferSize, 0),
  );
  console.log(`first load: login form usable after ${Math.round(await ms.jsonValue())} ms, ${(bytes / 1024).toFixed(1)} KB of assets transferred`);
}

async function login(page, user, password) {
  await fill(page, "Username or email", user);
  await fill(page, "Password", password);
  const t = Date.now();
  await click(page, "Log in");
  await heading(page, "Devices");
  await page.waitForSelector("table[aria-label=Devices], .state.empty");
  return Date.now() - t;
}

async function createDevice(page) {
  await seeText(page, "No devices yet");
  await click(page, "Add device", "link");
  await heading(page, "Add a device");
  await fill(page, "DevEUI", DEV_EUI);
  await fill(page, "Name", DEVICE);
  await fill(page, "Expected transmit interval (minutes)", "15", "spinbutton");
  await click(page, "Create device");
  await heading(page, DEVICE);
  await seeText(page, "never seen");
  ok("device created in the console");
}

async function createFunction(page) {
  await page.locator(aria("Functions", "link")).click();
  await heading(page, "Functions");
  await click(page, "New function", "link");
  await heading(page, "New function");
  await fill(page, "Name", FUNCTION);
  await replaceCode(page, [
    "// Fahrenheit for the receiver",
    "function process(message, parameters) {",
    "  console.log('converting', message.data.temperature);",
    "  return { dev_eui: message.dev_eui, temperature_f: message.data.temperature * 9 / 5 + 32, site: parameters.site };",
    "}",
  ].join("\n"));
  await click(page, "Add parameter");
  await page.locator(`[aria-label="Parameter 1"] ${aria("Name", "textbox")}`).fill("site");
  await page.locator(`[aria-label="Parameter 1"] ${aria("Default", "textbox")}`).fill("north");
  await click(page, "Create function");
  await page.waitForFunction(() => /#\/functions\/[0-9a-f-]{36}/.test(location.hash));
  await heading(page, FUNCTION);
  await click(page, "Test", "tab");
  await click(page, "Test");
  await page.waitForSelector("section[aria-label='Test result'] .status-success");
  await seeText(page, '"temperature_f": 70.7');
  await seeText(page, "converting");
  await audit(page, "the function page");
  await shot(page, "function", true);
  ok("function created and tested (output, logs)");
}

async function createIntegration(page) {
  await page.locator(aria("Integrations", "link")).click();
  await heading(page, "Integrations");
  await click(page, "New integration", "link");
  await fill(page, "Name", INTEGRATION);
  await fill(page, "URL", `${env.SINK_URL}/console`);
  await click(page, "Create integration");
  await heading(page, INTEGRATION);
  await click(page, "Send a test message");
  await page.waitForSelector("section[aria-label='Test delivery'] .status-delivered");
  ok("integration to the receiver created and tested");
}

async function drawFlow(page) {
  await page.locator(aria("Flows", "link")).click();
  await heading(page, "Flows");
  await fill(page, "New flow's name", FLOW);
  await click(page, "Create and edit");
  await heading(page, FLOW);
  // The trigger dragged from the palette onto the canvas; the others added by their buttons.
  await page.setDragInterception(true);
  const item = await page.waitForSelector(`.palette-item.kind-device ::-p-text(${DEVICE})`);
  await item.dragAndDrop(await page.$(".react-flow__pane"));
  await page.setDragInterception(false);
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__node").length === 1);
  await click(page, `Add function ${FUNCTION}`);
  await click(page, `Add integration ${INTEGRATION}`);
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__node").length === 3);
  await connect(page, DEVICE, FUNCTION);
  await connect(page, FUNCTION, INTEGRATION);
  // The function node's parameter, set in the inspector.
  await page.locator(`.react-flow__node ::-p-text(${FUNCTION})`).click();
  await page.locator(`aside[aria-label=Selection] ${aria("site", "textbox")}`).fill("greenhouse");
  await click(page, "Save");
  await seeText(page, "version 2");
  await click(page, "Enable");
  await seeText(page, "Enabled · version 3");
  const flowId = await page.evaluate(() => location.hash.match(/flows\/([0-9a-f-]{36})/)[1]);
  await click(page, "Simulate", "tab");
  await click(page, "Simulate");
  await page.waitForSelector("section[aria-label='Simulation result'] .status-success");
  await seeText(page, "skipped");
  ok("flow drawn in the editor (a node dragged in, 2 added, 2 edges dragged), saved, enabled and simulated");
  return flowId;
}

async function liveFleet(page) {
  await page.locator(aria("Devices", "link")).click();
  await heading(page, "Devices");
  await seeText(page, "Live");
  await page.evaluate(() => {
    window.notReloaded = true;
  });
  await uplink(1);
  // A row lights up (class "changed") only when a live event changed it, not on a reload of the list.
  await page.waitForFunction((d) => document.querySelector('table[aria-label="Devices"] tr.changed')?.innerText.includes(d), {}, DEVICE);
  await rowWith(page, "Devices", "online");
  if (!(await page.evaluate(() => window.notReloaded))) throw new Error("the page was reloaded");
  await audit(page, "the fleet");
  await shot(page, "fleet");
  ok("the device turned online in the fleet view without a reload");
}

async function runsAndDeliveries(page, flowId) {
  const since = await page.evaluate(() => performance.now());
  // The run list's loads since this page opened: the first, one on `ready`, one per live event.
  const loads = () =>
    page.evaluate(
      (id, t) => performance.getEntriesByType("resource").filter((r) => r.name.includes(`/flows/${id}/history`) && r.startTime > t).length,
      flowId,
      since,
    );
  await page.goto(`${BASE}/#/flows/${flowId}?tab=runs`);
  await heading(page, FLOW);
  await rowWith(page, "Runs", "success");
  await until("the run list to load and reload on `ready`", async () => (await loads()) >= 2);
  const before = await loads();
  await uplink(2);
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Runs"] tbody tr').length === 2);
  if ((await loads()) <= before) throw new Error("the second run was not brought by a live event");
  await page.locator('table[aria-label="Runs"] tbody tr').click();
  await page.waitForSelector("section[aria-label='Run path']");
  await page.waitForSelector(".flow-node.step-success");
  await audit(page, "the flow editor");
  await shot(page, "flow-editor");
  ok("both runs in the flow's history (the second appeared live), path shown on the graph");
  const stats = await until("the receiver to get both deliveries", async () => {
    const s = await sinkStats();
    return s.received >= 3 && s; // the test message and two uplinks
  });
  if (!stats.last_body.includes('"temperature_f"') || !stats.last_body.includes('"site":"greenhouse"')) {
    throw new Error(`unexpected delivery: ${stats.last_body}`);
  }
  await page.goto(`${BASE}/#/integrations`);
  await page.locator(aria(INTEGRATION, "link")).click();
  await click(page, "Deliveries", "tab");
  await rowWith(page, "Deliveries", "delivered");
  await page.locator('table[aria-label="Deliveries"] tbody tr').click();
  await page.waitForSelector("section[aria-label='Delivery details']");
  await seeText(page, "temperature_f");
  await audit(page, "the integration page");
  await shot(page, "integration");
  ok("deliveries reached the receiver and show with request and response");
}

async function devicePage(page) {
  await page.goto(`${BASE}/#/devices`);
  await page.locator(aria(DEVICE, "link")).click();
  await heading(page, DEVICE);
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Event history"] tbody tr').length === 2);
  await page.waitForSelector("figure.chart figcaption");
  await audit(page, "the device page");
  await shot(page, "device");
  ok("device page: history and chart");
}

async function otherPages(page) {
  for (const [route, name, title] of [
    ["/dead-letters", "dead-letters", "Dead letters"],
    ["/users", "users", "Users"],
    ["/account", "account", "Account"],
  ]) {
    await page.goto(`${BASE}/#${route}`);
    await heading(page, title);
    await page.waitForFunction(() => !document.querySelector("main .loading"));
    await audit(page, title);
    await shot(page, name);
  }
  ok("dead letters, users and account pages");
  if (!shots) return;
  await page.setViewport({ width: 390, height: 800 });
  await page.goto(`${BASE}/#/devices`);
  await rowWith(page, "Devices", DEVICE);
  await shot(page, "fleet-narrow");
  await page.setViewport({ width: 1280, height: 800 });
}

async function viewer(browser) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(`${BASE}/`);
  await click(page, "Create an account");
  await fill(page, "Email", "viewer@example.com");
  await fill(page, "Username", "viewer");
  await fill(page, "Password", "viewer-password-0123");
  await click(page, "Register");
  await seeText(page, "log in with it");
  await audit(page, "the login page");
  await shot(page, "login");
  await login(page, "viewer", "viewer-password-0123");
  const absent = async (what, selector) => {
    if (await page.$(selector)) throw new Error(`a viewer sees ${what}`);
  };
  await rowWith(page, "Devices", DEVICE);
  await absent("Add device", aria("Add device", "link"));
  await page.locator(aria(DEVICE, "link")).click();
  await heading(page, DEVICE);
  await absent("Edit", aria("Edit", "button"));
  await absent("Delete", aria("Delete", "button"));
  await absent("Replay", aria("Replay", "button"));
  await page.goto(`${BASE}/#/flows`);
  await page.locator(aria(FLOW, "link")).click();
  await heading(page, FLOW);
  await page.waitForSelector(".react-flow__node");
  await absent("Save", aria("Save", "button"));
  await absent("the palette", "aside.palette");
  await absent("Simulate", aria("Simulate", "tab"));
  await page.goto(`${BASE}/#/functions`);
  await page.locator(aria(FUNCTION, "link")).click();
  await heading(page, FUNCTION);
  await absent("Save", aria("Save", "button"));
  await page.waitForSelector(".cm-content[contenteditable=false]");
  await page.goto(`${BASE}/#/integrations`);
  await heading(page, "Integrations");
  await absent("New integration", aria("New integration", "link"));
  // The API refuses anyway.
  const status = await page.evaluate(async (eui) => {
    const res = await fetch("/api/v1/devices", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${sessionStorage.getItem("dm.token")}` },
      body: JSON.stringify({ dev_eui: eui, name: "sneaky" }),
    });
    return res.status;
  }, "70b3d57ed0009999");
  if (status !== 403) throw new Error(`a viewer's POST /devices answered ${status}`);
  await context.close();
  ok("a viewer sees no edit controls, and the API answers 403");
}

const browser = await puppeteer.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  userDataDir: env.PROFILE_DIR,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(30000);
  await page.setViewport({ width: 1280, height: 800 });
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await firstLoad(page);
  const loginMs = await login(page, env.ADMIN_USER, env.ADMIN_PASSWORD);
  console.log(`logged in: the fleet view was shown ${loginMs} ms after pressing Log in`);
  await createDevice(page);
  await createFunction(page);
  await createIntegration(page);
  const flowId = await drawFlow(page);
  await liveFleet(page);
  await runsAndDeliveries(page, flowId);
  await devicePage(page);
  await otherPages(page);
  await viewer(browser);
  if (problems.length) throw new Error(`errors in the page: ${problems.join("; ")}`);
} catch (e) {
  // What the page showed when it went wrong (the data folder is removed afterwards).
  for (const p of await browser.pages()) {
    console.error(`--- ${p.url()}\n${await p.evaluate(() => document.body.innerText).catch(() => "?")}`);
  }
  throw e;
} finally {
  await browser.close();
}
