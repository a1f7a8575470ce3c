/** The client's reconnecting stream and offline queue against a scripted fetch (no server). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { IronlogClient, memoryStorage, memoryTokenStore, newUuid, dateTime, type StreamEvent } from "../src/index.js";

type Handler = (url: URL, init: RequestInit) => Response | Promise<Response>;

function scripted(handler: Handler): { fetch: typeof fetch; sent: { url: URL; headers: Headers; method: string }[] } {
  const sent: { url: URL; headers: Headers; method: string }[] = [];
  const fake = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    sent.push({ url, headers: new Headers(init.headers), method: init.method ?? "GET" });
    return handler(url, init);
  }) as typeof fetch;
  return { fetch: fake, sent };
}

function events(text: string): Response {
  return new Response(text, { headers: { "Content-Type": "text/event-stream" } });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type, ...headers } });
}

const PAIR = { accessToken: "access-2", refreshToken: "refresh-2", expiresIn: 30, tokenType: "Bearer" };

describe("stream()", () => {
  it("reconnects after a drop with Last-Event-ID, and after expired with a refreshed token", async () => {
    let streams = 0;
    const { fetch, sent } = scripted((url) => {
      if (url.pathname === "/v1/auth/refresh") return json(200, PAIR);
      streams += 1;
      if (streams === 1) return events('retry: 5\nid: 41\nevent: ready\ndata: {"version":41}\n\nid: 42\nevent: projected\ndata: {"version":42}\n\n');
      if (streams === 2) return json(503, { title: "Service Unavailable", status: 503 }, { "Retry-After": "1" });
      if (streams === 3) return events('id: 42\nevent: ready\ndata: {"version":42}\n\nevent: expired\ndata: {}\n\n');
      return events('id: 43\nevent: ready\ndata: {"version":43}\n\n');
    });
    const api = new IronlogClient({ baseUrl: "http://api.test", fetch, tokens: memoryTokenStore("refresh-1") });
    const seen: StreamEvent[] = [];
    for await (const event of api.stream({ maxBackoffMs: 20 })) {
      seen.push(event);
      if (seen.length === 5) break;
    }
    assert.deepEqual(seen.map((e) => e.type), ["ready", "projected", "ready", "expired", "ready"]);
    const opened = sent.filter((s) => s.url.pathname === "/v1/stream");
    assert.deepEqual(opened.map((s) => s.headers.get("Last-Event-ID")), [null, "42", "42", "42"]);
    // One refresh at the start (no access token yet), one after `expired`, each sent on from then on.
    assert.equal(sent.filter((s) => s.url.pathname === "/v1/auth/refresh").length, 2);
    assert.ok(opened.every((s) => s.headers.get("Authorization") === "Bearer access-2"));
    assert.ok(opened.every((s) => s.headers.get("X-Consistency-Token") === null));
  });

  it("throws the 401 when the session cannot be refreshed, and signs out", async () => {
    const { fetch } = scripted((url) =>
      url.pathname === "/v1/auth/refresh" ? json(401, { title: "Unauthorized", status: 401 }) : events(""),
    );
    let signedOut = 0;
    const api = new IronlogClient({ baseUrl: "http://api.test", fetch, tokens: memoryTokenStore("spent"), onSignedOut: () => (signedOut += 1) });
    await assert.rejects(async () => {
      for await (const event of api.stream({ maxBackoffMs: 10 })) void event;
    }, { name: "ApiProblem", status: 401 });
    assert.equal(signedOut, 1);
  });
});

describe("queue.replay()", () => {
  const body = { title: "Legs", startedAt: dateTime("2026-12-01T10:00:00Z"), exercises: [] };

  it("stops at a network error and keeps the rest; drops a write refused for good", async () => {
    let online = false;
    const { fetch, sent } = scripted((url, init) => {
      if (url.pathname === "/v1/auth/refresh") return json(200, PAIR);
      if (!online) throw new TypeError("Network request failed");
      const id = url.pathname.split("/").pop();
      if (id === refused) return json(422, { title: "Unprocessable Content", status: 422, type: "urn:ironlog:problem:validation", errors: [{ field: "title", message: "bad" }] });
      return json(201, { ...JSON.parse(String(init.body)), id, version: 1 }, { "X-Consistency-Token": String(sent.length) });
    });
    const storage = memoryStorage();
    const api = new IronlogClient({ baseUrl: "http://api.test", fetch, storage, tokens: memoryTokenStore("refresh-1") });
    const refused = newUuid();
    for (const id of [newUuid(), refused, newUuid()]) {
      await api.queue.enqueue("put", "/v1/workouts/{workout_id}", { path: { workout_id: id }, body });
    }
    const offline = await api.queue.replay();
    assert.equal(offline.sent.length, 0);
    assert.equal(offline.remaining, 3);
    assert.ok(offline.error instanceof TypeError);

    online = true;
    const relaunched = new IronlogClient({ baseUrl: "http://api.test", fetch, storage, tokens: memoryTokenStore("refresh-1") });
    const report = await relaunched.queue.replay();
    assert.deepEqual(report.sent.map((s) => s.status), [201, 201]);
    assert.deepEqual(report.rejected.map((r) => [r.problem.kind, r.write.options.path]), [["validation", { workout_id: refused }]]);
    assert.equal(report.remaining, 0);
    assert.equal(storage.entries.get("ironlog.queue"), undefined);
    assert.equal(storage.entries.get("ironlog.consistencyToken"), String(relaunched.consistencyToken));
  });
});

describe("signInWith()", () => {
  it("sends the ID token without a bearer token and keeps the pair; link-required is a problem to switch on", async () => {
    let linked = false;
    const { fetch, sent } = scripted((url, init) => {
      if (url.pathname === "/v1/auth/oauth/google") {
        const body = JSON.parse(String(init.body)) as { password?: string };
        if (body.password === undefined && !linked) {
          return json(409, { title: "Conflict", status: 409, type: "urn:ironlog:problem:link-required", detail: "send its password" });
        }
        linked = true;
        return json(200, { ...PAIR, user: { id: "u-1" } });
      }
      if (url.pathname === "/v1/auth/refresh") return json(200, { ...PAIR, accessToken: "access-old", refreshToken: "refresh-old-2" });
      return json(200, {});
    });
    const tokens = memoryTokenStore("refresh-old"); // a previous session's, kept from an earlier launch
    const api = new IronlogClient({ baseUrl: "http://api.test", fetch, tokens });

    await assert.rejects(api.signInWith("google", { idToken: "eyJ.id.token" }), { name: "ApiProblem", kind: "link-required" });
    const signedIn = await api.signInWith("google", { idToken: "eyJ.id.token", password: "plates-and-chalk-42" });
    await api.get("/v1/me");

    assert.equal(signedIn.refreshToken, "refresh-2");
    assert.equal(await tokens.get(), "refresh-2");
    const signIns = sent.filter((s) => s.url.pathname === "/v1/auth/oauth/google");
    assert.equal(signIns.length, 2);
    assert.ok(signIns.every((s) => s.headers.get("Authorization") === null));
    assert.equal(sent.filter((s) => s.url.pathname === "/v1/auth/refresh").length, 0);
    assert.equal(sent.find((s) => s.url.pathname === "/v1/me")?.headers.get("Authorization"), "Bearer access-2");
  });
});
