// The gateway's live events (GET /api/v1/events): Server-Sent Events read with fetch, so the
// token travels in the Authorization header and never in a URL. Reconnects after the delay the
// server asks for (with jitter); the server ends streams now and then (age, account changes),
// and every (re)connection starts with a `ready` event after which pages reload what they show.
import { useEffect, useRef, useState } from "react";
import { API, authHeaders } from "./api.js";
import { useThrottled } from "./hooks.js";
import { setToken } from "./session.js";
import { createSseParser } from "./sse.js";

export function openLiveStream(topics, onEvent, onState) {
  const controller = new AbortController();
  let retry = 3000;
  let stopped = false;

  async function connectOnce() {
    const res = await fetch(`${API}/events?topics=${encodeURIComponent(topics)}`, {
      headers: { Accept: "text/event-stream", ...authHeaders() },
      signal: controller.signal,
      cache: "no-store",
    });
    if (res.status === 401) {
      setToken(null, "expired");
      stopped = true;
      return;
    }
    if (!res.ok || !res.body) {
      const wait = Number(res.headers.get("Retry-After"));
      if (wait > 0) retry = wait * 1000;
      throw new Error(`live events: ${res.status}`);
    }
    const parse = createSseParser(
      (e) => {
        if (e.event === "ready") onState("live");
        let data = null;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        onEvent(e.event, data);
      },
      (ms) => {
        retry = ms;
      },
    );
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parse(value);
    }
  }

  (async () => {
    while (!stopped) {
      onState("connecting");
      try {
        await connectOnce();
      } catch {
        if (controller.signal.aborted) return;
      }
      if (stopped) break;
      onState("reconnecting");
      await new Promise((r) => setTimeout(r, retry / 2 + Math.random() * retry));
    }
  })();

  return () => {
    stopped = true;
    controller.abort();
  };
}

// Follows `topics` while the component is shown. `onEvent(name, data)` gets every event (the
// latest function is used, without reconnecting); returns the connection state.
export function useLive(topics, onEvent) {
  const handler = useRef(onEvent);
  const [state, setState] = useState("connecting");
  useEffect(() => {
    handler.current = onEvent;
  });
  useEffect(() => {
    if (!topics) return undefined;
    return openLiveStream(topics, (name, data) => handler.current(name, data), setState);
  }, [topics]);
  return state;
}

// Reloads `load` (a useAsync or usePage result) quietly on the events of `topics`, at most once
// per 500 ms, so that a burst of changes costs one request; returns the connection state.
export function useLiveReload(topics, load) {
  const refresh = useThrottled(() => load.reload(true), 500);
  return useLive(topics, refresh);
}
