// Hash routes ("#/devices/<id>?tab=history"): the gateway serves one page at /, so every view
// has a link that survives a reload without any server-side routing.
import { useEffect, useState } from "react";

function current() {
  const hash = window.location.hash.replace(/^#/, "") || "/";
  const q = hash.indexOf("?");
  const path = q < 0 ? hash : hash.slice(0, q);
  const query = Object.fromEntries(new URLSearchParams(q < 0 ? "" : hash.slice(q + 1)));
  return { path, query };
}

export function useLocation() {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => setLocation(current());
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return location;
}

export function navigate(to, { replace = false } = {}) {
  const url = `#${to}`;
  if (replace) window.history.replaceState(null, "", url);
  else window.location.hash = to;
  if (replace) window.dispatchEvent(new HashChangeEvent("hashchange"));
}

// "/devices/:id" against "/devices/42" → {id: "42"}; null when it does not match.
export function match(pattern, path) {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}

// The current path with `changes` applied to its query (empty values removed).
export function withQuery(location, changes) {
  const q = new URLSearchParams({ ...location.query, ...changes });
  for (const [k, v] of [...q.entries()]) if (v === "" || v === "undefined") q.delete(k);
  const s = q.toString();
  return s ? `${location.path}?${s}` : location.path;
}
