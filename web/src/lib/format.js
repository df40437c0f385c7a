// How times, durations and values are shown.
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

export function dateTime(iso) {
  return iso ? absolute.format(new Date(iso)) : "—";
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

// Dot paths of the numeric leaves of an object ({a: {b: 1}} → ["a.b"]), for charting.
export function numericPaths(object, prefix = "", out = new Set()) {
  if (!object || typeof object !== "object") return out;
  for (const [k, v] of Object.entries(object)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof v === "number" && Number.isFinite(v)) out.add(path);
    else if (v && typeof v === "object" && !Array.isArray(v)) numericPaths(v, path, out);
  }
  return out;
}

export function pick(object, path) {
  return path.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), object);
}
