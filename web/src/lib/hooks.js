import { useCallback, useEffect, useRef, useState } from "react";
import { getAll, query, request } from "./api.js";

// Loading data for a view: data, error and whether it is loading, reload on demand, and
// answers that arrive after the inputs changed ignored. `deps` are plain values (ids, filters).
export function useAsync(load, deps) {
  const key = JSON.stringify(deps);
  const [state, setState] = useState({ key: null, data: undefined, error: null, busy: false });
  const latest = useRef(load);
  const generation = useRef(0);
  useEffect(() => {
    latest.current = load;
  });
  const fetchFor = useCallback((forKey) => {
    const mine = ++generation.current;
    return latest.current().then(
      (data) => {
        if (mine === generation.current) setState({ key: forKey, data, error: null, busy: false });
      },
      (error) => {
        if (mine === generation.current) setState((s) => ({ ...s, key: forKey, error, busy: false }));
      },
    );
  }, []);
  useEffect(() => {
    fetchFor(key);
  }, [fetchFor, key]);
  // `quiet`: keep showing what is there (live refreshes) instead of a loading state.
  const reload = useCallback(
    (quiet = false) => {
      if (!quiet) setState((s) => ({ ...s, busy: true }));
      return fetchFor(key);
    },
    [fetchFor, key],
  );
  const setData = useCallback((data) => setState((s) => ({ ...s, data })), []);
  return { data: state.data, error: state.error, loading: state.key !== key || state.busy, reload, setData };
}

// Calls `fn` at most once per `ms` (trailing), for bursts of live events that each say
// "something changed: reload".
export function useThrottled(fn, ms) {
  const latest = useRef(fn);
  const timer = useRef(null);
  useEffect(() => {
    latest.current = fn;
  });
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current();
    }, ms);
  }, [ms]);
}

// Runs `fn` every `ms` while the page is visible.
export function useInterval(fn, ms) {
  const latest = useRef(fn);
  useEffect(() => {
    latest.current = fn;
  });
  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === "visible") latest.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms]);
}

// Every definition of a kind ("labels", "functions", …), by name: for pickers and name lookups.
export function useAll(kind) {
  return useAsync(() => getAll(`/${kind}`, { sort: "name" }), [kind]);
}

// One page of a list the API answers with its total ({data, total}): `limit` entries from
// `skip`, narrowed by `filters` (their initial values; "" for any). A new filter value shows the
// first page again; `deps` reload the page (a version bumped by live events). Gives what
// useAsync gives, plus skip, limit, filters, setSkip and filter(name, value).
export function usePage(path, limit, { filters: initial = {}, deps = [] } = {}) {
  const [{ filters, skip }, setState] = useState({ filters: initial, skip: 0 });
  const page = useAsync(() => request("GET", `${path}${query({ ...filters, skip, limit })}`), [path, filters, skip, ...deps]);
  const setSkip = useCallback((to) => setState((s) => ({ ...s, skip: to })), []);
  const filter = useCallback((name, value) => setState((s) => ({ filters: { ...s.filters, [name]: value }, skip: 0 })), []);
  return { ...page, skip, limit, filters, setSkip, filter };
}

// Something a form or a button starts: `busy` while it runs (the button is disabled), and the
// error it ended with kept to show until the next start. `act(fn)` runs `fn` (async); a
// failure is kept in `error`, not thrown.
export function useAction() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const act = useCallback(async (fn) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (x) {
      setError(x);
    } finally {
      setBusy(false);
    }
  }, []);
  return { error, setError, busy, act };
}
