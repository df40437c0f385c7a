// The Server-Sent Events parser (node --test): events split anywhere across chunks.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createSseParser } from "../src/lib/sse.js";

test("events, multi-line data, comments, retry, any chunking and line ending", () => {
  const text =
    "retry: 3000\nevent: ready\ndata: {\"topics\":[]}\n\n: keep-alive\n\r\nevent: devstate\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata: plain\n\n";
  for (const size of [1, 2, 3, 7, text.length]) {
    const events = [];
    let retry = null;
    const push = createSseParser((e) => events.push(e), (ms) => (retry = ms));
    for (let i = 0; i < text.length; i += size) push(text.slice(i, i + size));
    assert.equal(retry, 3000, `chunks of ${size}`);
    assert.deepEqual(events, [
      { event: "ready", data: '{"topics":[]}' },
      { event: "devstate", data: '{"a":\n1}' },
      { event: "message", data: "plain" },
    ]);
  }
});
