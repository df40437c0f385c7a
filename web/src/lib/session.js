// The access token of this tab. sessionStorage: it survives a reload and is copied into tabs
// opened from this one, but not kept after the tab closes (tokens live an hour anyway).
const KEY = "dm.token";
const listeners = new Set();

export function getToken() {
  return sessionStorage.getItem(KEY);
}

// `reason` says why a token went ("expired": the API answered 401).
export function setToken(token, reason) {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
  for (const listener of listeners) listener(token, reason);
}

// Called with the new token (null after a logout or an expired session) and the reason.
export function onTokenChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
