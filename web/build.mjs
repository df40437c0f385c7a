// Builds the console into dist/ (or the folder named): index.html and assets/ with
// content-hashed names (the gateway serves those as immutable) and a gzip copy of each. Prints
// every file's size.
//   node build.mjs [out-dir]
import { build } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const here = new URL(".", import.meta.url).pathname;
const dist = resolve(process.argv[2] || join(here, "dist"));
const assets = join(dist, "assets");

rmSync(dist, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  entryPoints: [join(here, "src/main.jsx")],
  bundle: true,
  splitting: true,
  format: "esm",
  minify: true,
  target: ["chrome110", "firefox115", "safari16"],
  outdir: assets,
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  jsx: "automatic",
  loader: { ".js": "jsx" },
  define: { "process.env.NODE_ENV": '"production"' },
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([, o]) => o.entryPoint);
const js = basename(entry[0]);
const css = entry[1].cssBundle ? basename(entry[1].cssBundle) : null;

// The entry's static imports load in parallel with it instead of one after another.
const preload = entry[1].imports.filter((i) => i.kind === "import-statement").map((i) => basename(i.path));

writeFileSync(
  join(dist, "index.html"),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Device Manager</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%232563eb'/%3E%3Ccircle cx='8' cy='8' r='3' fill='white'/%3E%3C/svg%3E">
${css ? `<link rel="stylesheet" href="/assets/${css}">\n` : ""}${preload.map((p) => `<link rel="modulepreload" href="/assets/${p}">\n`).join("")}<script type="module" src="/assets/${js}"></script>
</head>
<body>
<div id="root"></div>
<noscript>The Device Manager console needs JavaScript. The REST API is documented at <a href="/docs">/docs</a>.</noscript>
</body>
</html>
`,
);

let total = 0;
let totalGz = 0;
for (const name of readdirSync(assets).sort()) {
  const body = readFileSync(join(assets, name));
  const gz = gzipSync(body, { level: 9 });
  writeFileSync(join(assets, `${name}.gz`), gz);
  total += body.length;
  totalGz += gz.length;
  console.log(`${name.padEnd(40)} ${(body.length / 1024).toFixed(1).padStart(8)} KB  ${(gz.length / 1024).toFixed(1).padStart(7)} KB gzipped`);
}
console.log(`${"total".padEnd(40)} ${(total / 1024).toFixed(1).padStart(8)} KB  ${(totalGz / 1024).toFixed(1).padStart(7)} KB gzipped`);
