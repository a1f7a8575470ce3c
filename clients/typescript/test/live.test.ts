/**
 * The client against a real stack: `ironlog api` and `ironlog worker` on a database of their own,
 * started by test/stack.py (`make client-test`), which passes IRONLOG_API_URL and IRONLOG_WORKER_PID.
 * The stack's access tokens last 30 s (no leeway), so one run also sees tokens expire.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  ApiProblem,
  dateTime,
  IronlogClient,
  isProblem,
  newUuid,
  memoryStorage,
  memoryTokenStore,
  type components,
  type StreamEvent,
  type Uuid,
} from "../src/index.js";
import { main as example } from "../examples/example.js";

type Workout = components["schemas"]["Workout"];

const BASE_URL = required("IRONLOG_API_URL");
const WORKER_PID = Number(required("IRONLOG_WORKER_PID"));
const ACCESS_TTL_MS = 30_000;

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set: run this through make client-test`);
  return value;
}

function workout(title: string): Workout {
  const ended = Date.now() - 60_000;
  return {
    title,
    startedAt: dateTime(new Date(ended - 3_600_000)),
    endedAt: dateTime(new Date(ended)),
    exercises: [{ exerciseId: "barbell-bench-press", sets: [{ reps: 5, weight: { value: 100, unit: "kg" } }] }],
  };
}

async function problemOf(call: Promise<unknown>): Promise<ApiProblem> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ApiProblem, `expected an ApiProblem, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

/** Counts what a client sends: refreshes, and the 401s it was answered. */
function countingFetch(): { fetch: typeof fetch; refreshes: number; unauthorized: number } {
  const counts = {
    refreshes: 0,
    unauthorized: 0,
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.endsWith("/v1/auth/refresh")) counts.refreshes += 1;
      const response = await fetch(input, init);
      if (response.status === 401) counts.unauthorized += 1;
      return response;
    }) as typeof fetch,
  };
  return counts;
}

/** The events of one client's stream, collected in the background, with a way to wait for one. */
class Listener {
  readonly events: StreamEvent[] = [];
  private readonly abort = new AbortController();
  private wake: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(api: IronlogClient) {
    this.done = (async () => {
      for await (const event of api.stream({ signal: this.abort.signal, maxBackoffMs: 1000 })) {
        this.events.push(event);
        this.wake?.();
      }
    })();
  }

  async waitFor(what: string, matches: (event: StreamEvent) => boolean, from = 0, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(matches);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

describe("the client against a live stack", { timeout: 110_000 }, () => {
  const keychain = memoryTokenStore();
  const storage = memoryStorage();
  const signedOut: string[] = [];
  const api = new IronlogClient({ baseUrl: BASE_URL, tokens: keychain, storage, onSignedOut: () => signedOut.push("a") });
  const counted = countingFetch();
  const racer = new IronlogClient({ baseUrl: BASE_URL, fetch: counted.fetch });
  let racerSignedInAt = 0;
  let listener: Listener;
  const handle = `c${newUuid().slice(0, 8)}`;

  before(async () => {
    const signedIn = await api.register({ email: `${handle}@example.com`, password: "plates-and-chalk-42", displayName: "Sam", handle });
    assert.equal(signedIn.user.handle, handle);
    await racer.register({
      email: `${handle}-r@example.com`,
      password: "plates-and-chalk-42",
      displayName: "Rae",
      handle: `${handle}r`,
    });
    racerSignedInAt = Date.now();
    listener = new Listener(api);
  });

  after(async () => {
    await listener?.stop();
  });

  it("answers a taken email with the problem kind email-taken", async () => {
    const again = await problemOf(
      new IronlogClient({ baseUrl: BASE_URL }).register({
        email: `${handle}@example.com`,
        password: "plates-and-chalk-42",
        displayName: "Copy",
        handle: `${handle}x`,
      }),
    );
    assert.ok(isProblem(again) && again.kind === "email-taken");
    assert.deepEqual(again.errors.map((error) => error.field), ["email"]);
  });

  it("runs examples/example.ts from start to sign-out", async () => {
    await example(BASE_URL);
  });

  it("signs in and keeps the refresh token in its store", async () => {
    assert.ok(await api.hasSession());
    assert.notEqual(await keychain.get(), null);
    const me = await api.get("/v1/me");
    assert.equal(me.data.handle, handle);
  });

  it("streams `ready`, then `projected` once a write is projected", async () => {
    const ready = await listener.waitFor("ready", (event) => event.type === "ready");
    assert.equal(ready.type, "ready");
    const from = listener.events.length;
    const id = newUuid();
    const put = await api.put("/v1/workouts/{workout_id}", { path: { workout_id: id }, body: workout("Streamed") });
    assert.equal(put.status, 201);
    const written = api.consistencyToken;
    assert.ok(written !== null && written > 0);
    const projected = await listener.waitFor(
      "projected",
      (event) => event.type === "projected" && event.data.version >= written,
      from,
    );
    assert.ok(projected.type === "projected");
    assert.equal(projected.id, String(projected.data.version));
  });

  it("replays an offline queue twice: each id one 201, then 200s, and reads its writes after a relaunch", async () => {
    const ids = [newUuid(), newUuid(), newUuid()];
    for (const [index, id] of ids.entries()) {
      await api.queue.enqueue("put", "/v1/workouts/{workout_id}", { path: { workout_id: id }, body: workout(`Offline ${index}`) });
    }
    assert.equal((await api.queue.pending()).length, 3);
    // The app dies after sending and before it learns the answers: what its storage held then.
    const beforeReplay = Object.fromEntries(storage.entries);

    const first = await api.queue.replay();
    assert.deepEqual(first.sent.map((sent) => sent.status), [201, 201, 201]);
    assert.equal(first.remaining, 0);
    assert.deepEqual(await api.queue.pending(), []);

    const kept = memoryStorage(beforeReplay);
    const relaunched = new IronlogClient({ baseUrl: BASE_URL, tokens: keychain, storage: kept });
    assert.equal((await relaunched.queue.pending()).length, 3);
    const second = await relaunched.queue.replay();
    assert.deepEqual(second.sent.map((sent) => sent.status), [200, 200, 200]);
    assert.deepEqual(second.rejected, []);
    assert.equal(second.remaining, 0);

    // A third launch finds the consistency token in storage and reads what the queue wrote.
    const third = new IronlogClient({ baseUrl: BASE_URL, tokens: keychain, storage: kept });
    await third.restore();
    assert.ok((third.consistencyToken ?? 0) >= (api.consistencyToken ?? Infinity));
    const read = await third.get("/v1/workouts/{workout_id}", { path: { workout_id: ids[2] as Uuid } });
    assert.equal(read.headers.get("X-Consistency"), null);
    assert.equal(read.data.title, "Offline 2");
  });

  it("rebuilds local state from the changes feed, equal to the workout feed", async () => {
    const deleted = newUuid();
    await api.put("/v1/workouts/{workout_id}", { path: { workout_id: deleted }, body: workout("Deleted soon") });
    await api.delete("/v1/workouts/{workout_id}", { path: { workout_id: deleted } });

    const local = new Map<string, { title: string; version: number }>();
    const types = new Set<string>();
    let since = 0;
    for (;;) {
      const { data } = await api.get("/v1/changes", { query: { since, limit: 2 } });
      for (const change of data.changes) {
        types.add(change.event.type);
        const event = change.event;
        if (event.type === "WorkoutLogged" || event.type === "WorkoutAmended") {
          local.set(event.workoutId, { title: event.workout.title, version: event.workoutVersion });
        } else if (event.type === "WorkoutDeleted") {
          local.delete(event.workoutId);
        }
      }
      since = data.nextSince;
      if (!data.hasMore) break;
    }
    assert.ok(types.has("WorkoutDeleted") && types.has("WorkoutLogged"), [...types].join());

    const served = new Map<string, { title: string; version: number }>();
    let cursor: string | undefined;
    do {
      const { data, headers } = await api.get("/v1/workouts", { query: cursor === undefined ? { limit: 2 } : { limit: 2, cursor } });
      assert.equal(headers.get("X-Consistency"), null);
      for (const item of data.items) served.set(item.id, { title: item.title, version: item.version });
      cursor = data.nextCursor ?? undefined;
    } while (cursor !== undefined);
    assert.equal(served.size, 4); // the streamed one and the three queued; the deleted one is not served
    assert.deepEqual(new Map([...local].sort()), new Map([...served].sort()));
  });

  it("sends If-Match on PUT and DELETE: a stale version is a 412 with the current one", async () => {
    const id = newUuid();
    const path = { workout_id: id };
    const logged = await api.put("/v1/workouts/{workout_id}", { path, body: workout("Versioned") });
    assert.equal(logged.data.version, 1);
    const amended = await api.put("/v1/workouts/{workout_id}", { path, body: workout("Versioned, amended"), ifMatch: 1 });
    assert.equal(amended.data.version, 2);
    assert.equal(amended.etag, '"2"');

    const stalePut = await problemOf(api.put("/v1/workouts/{workout_id}", { path, body: workout("Lost update"), ifMatch: 1 }));
    assert.equal(stalePut.status, 412);
    assert.equal(stalePut.kind, "version-mismatch");
    assert.equal(stalePut.currentVersion, 2);
    const staleDelete = await problemOf(api.delete("/v1/workouts/{workout_id}", { path, ifMatch: 1 }));
    assert.equal(staleDelete.status, 412);
    assert.equal(staleDelete.currentVersion, 2);
    const current = await api.get("/v1/workouts/{workout_id}", { path });
    assert.equal(current.data.title, "Versioned, amended");

    // A conditional GET with the ETag held: 304 is an answer, not an error.
    assert.ok(current.etag !== null);
    const unchanged = await api.getIfChanged("/v1/workouts/{workout_id}", current.etag, { path });
    assert.deepEqual([unchanged.status, unchanged.notModified], [304, true]);
    const changed = await api.getIfChanged("/v1/workouts/{workout_id}", '"1"', { path });
    assert.ok(!changed.notModified);
    assert.equal(changed.data.version, 2);

    const removed = await api.delete("/v1/workouts/{workout_id}", { path, ifMatch: amended.etag ?? "" });
    assert.equal(removed.status, 204);
  });

  it("answers a write to a deleted workout with a typed 410", async () => {
    const id = newUuid();
    await api.put("/v1/workouts/{workout_id}", { path: { workout_id: id }, body: workout("Gone") });
    await api.delete("/v1/workouts/{workout_id}", { path: { workout_id: id } });
    const gone = await problemOf(api.put("/v1/workouts/{workout_id}", { path: { workout_id: id }, body: workout("Back") }));
    assert.equal(gone.status, 410);
    assert.equal(gone.kind, "gone");
    assert.equal(gone.type, "urn:ironlog:problem:gone");
    assert.equal(gone.title, "Gone");
    assert.ok(gone.requestId);
  });

  it("says `stale` when a read with a token times out while the worker is paused", async () => {
    const id = newUuid();
    process.kill(-WORKER_PID, "SIGSTOP"); // the worker's process group: no projection happens
    try {
      const put = await api.put("/v1/workouts/{workout_id}", { path: { workout_id: id }, body: workout("Unprojected") });
      assert.equal(put.status, 201);
      const started = Date.now();
      const missing = await problemOf(api.get("/v1/workouts/{workout_id}", { path: { workout_id: id } }));
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get("X-Consistency"), "stale");
      assert.ok(Date.now() - started >= 1500, `answered after ${Date.now() - started} ms, before the wait ran out`);
    } finally {
      process.kill(-WORKER_PID, "SIGCONT");
    }
    const caughtUp = await api.get("/v1/workouts/{workout_id}", { path: { workout_id: id } });
    assert.equal(caughtUp.headers.get("X-Consistency"), null);
    assert.equal(caughtUp.data.title, "Unprojected");
  });

  it("refreshes once for 5 concurrent 401s after the access token expired", async () => {
    const wait = racerSignedInAt + ACCESS_TTL_MS + 1500 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    assert.equal(counted.refreshes, 0);
    const answers = await Promise.all(Array.from({ length: 5 }, () => racer.get("/v1/me")));
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200, 200, 200]);
    assert.equal(counted.unauthorized, 5);
    assert.equal(counted.refreshes, 1);
  });

  it("keeps streaming across a token expiry: `expired`, a refresh, `ready` again, then `projected`", async () => {
    const expired = listener.events.findIndex((event) => event.type === "expired");
    assert.ok(expired >= 0, `no expired event: ${JSON.stringify(listener.events)}`);
    const again = await listener.waitFor("ready after expired", (event) => event.type === "ready", expired + 1);
    // Reopened with Last-Event-ID: the server resumes, so only what it names next needs fetching.
    assert.ok(again.type === "ready" && again.data.resumed, `not resumed: ${JSON.stringify(again)}`);
    const from = listener.events.length;
    const put = await api.put("/v1/workouts/{workout_id}", { path: { workout_id: newUuid() }, body: workout("After expiry") });
    assert.equal(put.status, 201);
    const written = api.consistencyToken ?? Infinity;
    await listener.waitFor("projected after expiry", (event) => event.type === "projected" && event.data.version >= written, from);
    assert.deepEqual(signedOut, []);
  });
});
