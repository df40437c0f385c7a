// The REST API (same origin, /api/v1). Every call sends the tab's token; a 401 ends the session.
import { getToken, setToken } from "./session.js";

export const API = "/api/v1";

// An answer other than 2xx. `fields` are FastAPI's 422 entries ({loc, msg, type}).
export class ApiError extends Error {
  constructor(status, detail, retryAfter) {
    super(typeof detail === "string" ? detail : summarize(detail, status));
    this.status = status;
    this.fields = Array.isArray(detail) ? detail : [];
    this.retryAfter = retryAfter;
  }
}

function summarize(detail, status) {
  if (Array.isArray(detail) && detail.length) {
    return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
  }
  return `Request failed (${status})`;
}

export function authHeaders() {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// Returns {data, total, headers}; throws ApiError (or a TypeError when the network fails).
export async function request(method, path, body, { signal, form } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  let payload;
  if (form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    payload = new URLSearchParams(form).toString();
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(API + path, { method, headers, body: payload, signal });
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    // Not for the login form itself: a wrong password is not an expired session.
    if (res.status === 401 && !form && getToken()) setToken(null, "expired");
    throw new ApiError(res.status, data && data.detail !== undefined ? data.detail : data, res.headers.get("Retry-After"));
  }
  const total = res.headers.get("X-Total-Count");
  return { data, total: total === null ? null : Number(total), headers: res.headers };
}

export const get = (path, opts) => request("GET", path, undefined, opts).then((r) => r.data);
export const post = (path, body) => request("POST", path, body).then((r) => r.data);
export const put = (path, body) => request("PUT", path, body).then((r) => r.data);
export const patch = (path, body) => request("PATCH", path, body).then((r) => r.data);
export const del = (path) => request("DELETE", path).then((r) => r.data);

// A query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

// Everything of a list endpoint, page by page (lists answer at most 1000 at a time).
export async function getAll(path, params = {}, max = 5000) {
  const out = [];
  for (let skip = 0; skip < max; skip += 1000) {
    const { data, total } = await request("GET", path + query({ ...params, skip, limit: 1000 }));
    out.push(...data);
    if (data.length < 1000 || (total !== null && out.length >= total)) break;
  }
  return out;
}

// The message of a 422 entry whose loc ends with the path `field` ("config.headers.X").
export function fieldError(error, field) {
  if (!(error instanceof ApiError)) return undefined;
  const want = field.split(".");
  const hit = error.fields.find((f) => {
    const loc = (f.loc || []).filter((p) => p !== "body").map(String);
    return loc.length >= want.length && want.every((w, i) => loc[loc.length - want.length + i] === w);
  });
  return hit ? hit.msg : undefined;
}
