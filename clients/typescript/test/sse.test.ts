/** The SSE parser alone: the event-stream format as the WHATWG HTML standard defines it. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { SseParser, streamEvent, type SseMessage } from "../src/index.js";

function parse(...chunks: string[]): SseMessage[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

describe("SseParser", () => {
  it("reads the server's events: id, event, data and retry", () => {
    const text =
      'id: 41\nevent: ready\ndata: {"version":41,"expiresAt":"2026-11-27T18:15:00Z","heartbeatSeconds":15.0,"resumed":false}\nretry: 3000\n\n' +
      'id: 42\nevent: projected\ndata: {"version":42}\n\n' +
      "event: heartbeat\ndata: {}\n\n";
    const messages = parse(text);
    assert.deepEqual(
      messages.map((m) => [m.event, m.lastEventId, m.retry]),
      [
        ["ready", "41", 3000],
        ["projected", "42", undefined],
        ["heartbeat", "42", undefined],
      ],
    );
    assert.deepEqual(streamEvent(messages[1] as SseMessage), { type: "projected", id: "42", data: { version: 42 } });
  });

  it("joins lines split anywhere across chunks, CRLF split between two included", () => {
    const text = "event: projected\r\ndata: {\"version\":7}\r\n\r\n";
    for (let cut = 0; cut <= text.length; cut += 1) {
      const messages = parse(text.slice(0, cut), text.slice(cut));
      assert.deepEqual(messages.map((m) => [m.event, m.data]), [["projected", '{"version":7}']], `cut at ${cut}`);
    }
  });

  it("joins data lines with newlines, skips comments and dispatches nothing without data", () => {
    const messages = parse(": a comment\n\nevent: x\n\ndata: one\ndata:two\ndata\n\n");
    assert.deepEqual(messages.map((m) => [m.event, m.data]), [["message", "one\ntwo\n"]]);
  });

  it("drops an event the stream ended in the middle of", () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push("event: projected\ndata: {}\n"), []);
    parser.end();
    assert.deepEqual(parser.push("\n"), []);
  });

  it("leaves unknown event types out of the typed stream", () => {
    assert.equal(streamEvent({ event: "surprise", data: "{}", lastEventId: "" }), null);
    assert.deepEqual(streamEvent({ event: "expired", data: "{}", lastEventId: "9" }), { type: "expired", data: {} });
  });
});
