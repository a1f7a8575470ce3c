/**
 * A small typed fetch client for the Ironlog API. Paths, parameters, bodies and answers are typed
 * from `paths` in schema.ts (generated from the OpenAPI document). The client keeps the access
 * token in memory and the refresh token in a pluggable store, refreshes once on a 401 (concurrent
 * 401s share one refresh), sends the newest `X-Consistency-Token` of its writes on reads, and
 * throws every error answer as an `ApiProblem` (RFC 9457). No dependencies: only global fetch.
 */
import type { components, paths } from "./schema.js";
import { SseParser, type SseMessage } from "./sse.js";

export type Method = "get" | "put" | "post" | "patch" | "delete";
type Defined<T> = Exclude<T, undefined>;

/** The paths that have an operation for `M`. */
export type PathsFor<M extends Method> = {
  [P in keyof paths]-?: [Defined<paths[P][M]>] extends [never] ? never : P;
}[keyof paths];
export type Operation<P extends keyof paths, M extends Method> = Defined<paths[P][M]>;

type ParametersOf<O> = O extends { parameters: infer X } ? X : object;
type PathInput<O> = ParametersOf<O> extends { path: infer X } ? { path: X } : { path?: never };
type QueryInput<O> =
  ParametersOf<O> extends { query: infer X }
    ? { query: X }
    : ParametersOf<O> extends { query?: infer X }
      ? [Defined<X>] extends [never] ? { query?: never } : { query?: Defined<X> }
      : { query?: never };
type BodyOf<C> = C extends { "application/json": infer J } ? J : FormData | Blob | string;
type BodyInput<O> = O extends { requestBody: { content: infer C } }
  ? { body: BodyOf<C> }
  : O extends { requestBody?: { content: infer C } }
    ? { body?: BodyOf<C> }
    : { body?: never };

export interface CallOptions {
  headers?: Record<string, string>;
  /** For versioned PUT/DELETE: the version (3 sends `If-Match: "3"`) or an ETag as received. */
  ifMatch?: number | string;
  signal?: AbortSignal;
}
export type RequestOptions<O> = PathInput<O> & QueryInput<O> & BodyInput<O> & CallOptions;
type Args<O> = object extends RequestOptions<O> ? [options?: RequestOptions<O>] : [options: RequestOptions<O>];

type Success = 200 | 201 | 202 | 203 | 204 | 206;
type Payload<R> = R extends { content: infer C }
  ? C extends { "application/json": infer J } ? J : C[keyof C]
  : undefined;
type ResponsesOf<O> = O extends { responses: infer R } ? R : never;
/** The body of an operation's 2xx answers (undefined for 204). */
export type ResponseData<O> = {
  [S in keyof ResponsesOf<O>]: S extends 204 ? undefined : S extends Success ? Payload<ResponsesOf<O>[S]> : never;
}[keyof ResponsesOf<O>];

export interface ApiResult<T> {
  data: T;
  status: number;
  /** Of a workout or routine: its version (`"3"`), to send back as `ifMatch`. */
  etag: string | null;
  headers: Headers;
}

/** A conditional GET's answer when what the app holds is current (304). */
export interface NotModified {
  notModified: true;
  status: 304;
  etag: string;
  headers: Headers;
}

type ProblemBody = components["schemas"]["Problem"];
export type FieldError = components["schemas"]["FieldError"];
/** Every problem type the API documents (`urn:ironlog:problem:<kind>`, or `about:blank`). */
export type ProblemType = Defined<ProblemBody["type"]>;
type KindOf<U> = U extends `${typeof PROBLEM_TYPE_PREFIX}${infer K}` ? K : never;
/** The kinds of problem, from the schema: `version-mismatch`, `email-taken`, `validation`, `gone`, … */
export type ProblemKind = KindOf<ProblemType>;
const PROBLEM_TYPE_PREFIX = "urn:ironlog:problem:";

/** An error answer (RFC 9457 problem details); other members, such as `currentVersion`, go in `extensions`. */
export class ApiProblem extends Error {
  readonly type: string;
  /** The problem's kind from its `type`; `unknown` for `about:blank` or a type this client predates. */
  readonly kind: ProblemKind | "unknown";
  readonly title: string;
  readonly status: number;
  readonly detail: string | null;
  readonly instance: string | null;
  readonly requestId: string | null;
  readonly errors: FieldError[];
  readonly extensions: Record<string, unknown>;
  readonly headers: Headers;

  constructor(status: number, body: Record<string, unknown>, headers: Headers) {
    const text = (key: keyof ProblemBody): string | null => {
      const value = body[key];
      return typeof value === "string" ? value : null;
    };
    const title = text("title") ?? `HTTP ${status}`;
    super(text("detail") ?? title);
    this.name = "ApiProblem";
    this.type = text("type") ?? "about:blank";
    this.kind = this.type.startsWith(PROBLEM_TYPE_PREFIX)
      ? (this.type.slice(PROBLEM_TYPE_PREFIX.length) as ProblemKind)
      : "unknown";
    this.title = title;
    this.status = status;
    this.detail = text("detail");
    this.instance = text("instance");
    this.requestId = text("requestId");
    this.errors = Array.isArray(body["errors"]) ? (body["errors"] as FieldError[]) : [];
    const known = new Set<string>(["type", "title", "status", "detail", "instance", "requestId", "errors"]);
    this.extensions = Object.fromEntries(Object.entries(body).filter(([key]) => !known.has(key)));
    this.headers = headers;
  }

  /** On 409 and 412 from a versioned PUT/DELETE: the version the server holds. */
  get currentVersion(): number | undefined {
    const value = this.extensions["currentVersion"];
    return typeof value === "number" ? value : undefined;
  }

  /** On 429 and 503: the seconds to wait before trying again (the `retryAfter` member or the header). */
  get retryAfter(): number | undefined {
    const value = this.extensions["retryAfter"] ?? this.headers.get("Retry-After");
    const seconds = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
    return typeof seconds === "number" ? seconds : undefined;
  }
}

type WithExtensions = "version-mismatch" | "validation" | "rate-limited" | "unavailable";
/**
 * An `ApiProblem` as a union discriminated by `kind`: `switch (problem.kind)` narrows to the members
 * that kind carries. `isProblem(error)` narrows a caught value to it.
 */
export type Problem =
  | (ApiProblem & { readonly kind: "version-mismatch"; readonly currentVersion: number | undefined })
  | (ApiProblem & { readonly kind: "validation"; readonly errors: FieldError[] })
  | (ApiProblem & { readonly kind: "rate-limited" | "unavailable"; readonly retryAfter: number | undefined })
  | (ApiProblem & { readonly kind: Exclude<ProblemKind, WithExtensions> | "unknown" });

export function isProblem(error: unknown): error is Problem {
  return error instanceof ApiProblem;
}

/** Where the refresh token lives between app launches (e.g. the device keychain). */
export interface TokenStore {
  get(): Promise<string | null>;
  set(refreshToken: string | null): Promise<void>;
}

export function memoryTokenStore(initial: string | null = null): TokenStore {
  let token = initial;
  return {
    get: async () => token,
    set: async (value) => {
      token = value;
    },
  };
}

/**
 * Where the client keeps what must survive a relaunch besides the refresh token: the consistency token
 * and the offline queue. Shaped like React Native's AsyncStorage, which fits as it is.
 */
export interface KeyValueStorage {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

/** A storage in memory (the default): nothing survives the process. `entries` is what it holds. */
export function memoryStorage(initial: Record<string, string> = {}): KeyValueStorage & {
  entries: Map<string, string>;
} {
  const entries = new Map(Object.entries(initial));
  return {
    entries,
    getItem: async (key) => entries.get(key) ?? null,
    setItem: async (key, value) => {
      entries.set(key, value);
    },
    removeItem: async (key) => {
      entries.delete(key);
    },
  };
}

export interface ClientOptions {
  baseUrl: string;
  tokens?: TokenStore;
  /** Keeps the consistency token and the offline queue across launches (AsyncStorage, say). */
  storage?: KeyValueStorage;
  /** Prefix of the keys the client writes in `storage`; `ironlog.` unless told. */
  storagePrefix?: string;
  fetch?: typeof fetch;
  /** Called when the session ends: logout, or a refresh token the server no longer accepts. */
  onSignedOut?: () => void;
}

const CONSISTENCY = "X-Consistency-Token";
const STREAM = "/v1/stream";
const RECONNECT_MS = 3000;
const SIGN_IN_WITH = "/v1/auth/oauth/{provider}";
const PUBLIC = new Set<string>(["/v1/auth/register", "/v1/auth/login", "/v1/auth/refresh", SIGN_IN_WITH]);
export type AnyOptions = CallOptions & { path?: object; query?: object; body?: unknown };
type Data<P extends PathsFor<M>, M extends Method> = ResponseData<Operation<P, M>>;
/** One HTTP method: the path picks the operation, which types the options and the answer. */
export type Call<M extends Method> = <P extends PathsFor<M>>(
  path: P,
  ...args: Args<Operation<P, M>>
) => Promise<ApiResult<Data<P, M>>>;
type Body<P extends PathsFor<"post">> = RequestOptions<Operation<P, "post">>["body"];
/** An identity provider: `"apple"` or `"google"`. */
export type IdentityProvider = RequestOptions<Operation<typeof SIGN_IN_WITH, "post">>["path"]["provider"];

export class IronlogClient {
  private readonly baseUrl: string;
  private readonly tokens: TokenStore;
  private readonly fetcher: typeof fetch;
  private accessToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private restoring: Promise<void> | null = null;
  private readonly storage: KeyValueStorage;
  private readonly tokenKey: string;
  /** The newest stream version this client wrote; reads wait until the read models include it. */
  consistencyToken: number | null = null;
  /** Writes made offline, sent in order by `queue.replay()`; kept in `storage`. */
  readonly queue: OfflineQueue;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.tokens = options.tokens ?? memoryTokenStore();
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.storage = options.storage ?? memoryStorage();
    const prefix = options.storagePrefix ?? "ironlog.";
    this.tokenKey = `${prefix}consistencyToken`;
    this.queue = new OfflineQueue(this, this.storage, `${prefix}queue`);
  }

  /** Reads the consistency token kept by an earlier launch; every call awaits it before it is sent. */
  restore(): Promise<void> {
    this.restoring ??= this.storage.getItem(this.tokenKey).then((kept) => {
      if (kept !== null && /^\d+$/.test(kept)) {
        this.consistencyToken = Math.max(Number(kept), this.consistencyToken ?? 0);
      }
    });
    return this.restoring;
  }

  private async setConsistencyToken(version: number | null): Promise<void> {
    this.consistencyToken = version;
    if (version === null) await this.storage.removeItem(this.tokenKey);
    else await this.storage.setItem(this.tokenKey, String(version));
  }

  readonly get: Call<"get"> = this.verb("get");
  readonly put: Call<"put"> = this.verb("put");
  readonly post: Call<"post"> = this.verb("post");
  readonly patch: Call<"patch"> = this.verb("patch");
  readonly delete: Call<"delete"> = this.verb("delete");

  async register(body: Body<"/v1/auth/register">): Promise<Data<"/v1/auth/register", "post">> {
    return this.signIn(() => this.post("/v1/auth/register", { body }));
  }
  async login(body: Body<"/v1/auth/login">): Promise<Data<"/v1/auth/login", "post">> {
    return this.signIn(() => this.post("/v1/auth/login", { body }));
  }
  /**
   * Signs in with the ID token Sign in with Apple or Google gave the app; the first sign-in makes the
   * account. A `link-required` problem (409) means an account has the token's email: send the same
   * body again with that account's `password` to link them.
   */
  async signInWith(
    provider: IdentityProvider,
    body: Body<typeof SIGN_IN_WITH>,
  ): Promise<Data<typeof SIGN_IN_WITH, "post">> {
    return this.signIn(() => this.post(SIGN_IN_WITH, { path: { provider }, body }));
  }
  /** Revokes this session on the server (when reachable) and forgets its tokens. */
  async logout(): Promise<void> {
    try {
      await this.post("/v1/auth/logout");
    } catch (error) {
      if (!(error instanceof ApiProblem && error.status === 401)) throw error;
    } finally {
      await this.endSession();
    }
  }
  async hasSession(): Promise<boolean> {
    return this.accessToken !== null || (await this.tokens.get()) !== null;
  }

  /**
   * The caller's live updates (`GET /v1/stream`) as typed events, for as long as the loop runs or until
   * `signal` aborts. A dropped stream is reopened with `Last-Event-ID` after the server's `retry`
   * delay, doubled on each failure in a row (at most `maxBackoffMs`); after `expired` the client
   * refreshes its token and reopens at once. The body must stream: on React Native pass a streaming
   * `fetch` in the options (README), or feed an `SseParser` from a transport of your own.
   */
  async *stream(options: StreamOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    const { signal } = options;
    let lastEventId = options.lastEventId ?? "";
    let retryMs = RECONNECT_MS;
    let failures = 0;
    const maxBackoffMs = options.maxBackoffMs ?? 30_000;
    const pause = () => sleep(Math.min(retryMs * 2 ** Math.max(failures - 1, 0), maxBackoffMs), signal);
    while (!aborted(signal)) {
      await this.restore();
      let response: Response;
      let token: string | null = null;
      try {
        if (this.accessToken === null && !(await this.refreshAfter(null))) {
          throw new ApiProblem(401, { title: "Unauthorized", detail: "There is no session." }, new Headers());
        }
        token = this.accessToken;
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (lastEventId !== "") headers["Last-Event-ID"] = lastEventId;
        const query = options.leaderboard === undefined ? {} : { leaderboard: options.leaderboard };
        const init: AnyOptions = { headers, query };
        if (signal !== undefined) init.signal = signal;
        response = await this.send("get", STREAM, init, token);
      } catch (error) {
        if (aborted(signal)) return;
        if (error instanceof ApiProblem && !retryable(error.status)) throw error;
        failures += 1; // offline, or the refresh could not be made: try again later
        await pause();
        continue;
      }
      if (response.status === 401) {
        await response.body?.cancel();
        if (token !== null && (await this.refreshAfter(token))) continue;
        throw new ApiProblem(401, { title: "Unauthorized", detail: "The session ended." }, response.headers);
      }
      if (!response.ok) {
        const problem = await problemOf(response);
        if (!retryable(problem.status)) throw problem;
        failures += 1;
        await pause();
        continue;
      }
      if (response.body === null) {
        throw new TypeError("this fetch does not stream response bodies: pass a streaming fetch (see README)");
      }
      const parser = new SseParser();
      parser.lastEventId = lastEventId;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let expired = false;
      let finished = false;
      try {
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) break;
          for (const message of parser.push(decoder.decode(chunk.value, { stream: true }))) {
            if (message.retry !== undefined) retryMs = message.retry;
            lastEventId = message.lastEventId;
            const event = streamEvent(message);
            if (event === null) continue;
            if (event.type === "ready") failures = 0;
            if (event.type === "expired") expired = true;
            yield event;
          }
        }
        finished = true;
      } catch {
        if (aborted(signal)) return; // otherwise the connection dropped: reconnect below
      } finally {
        if (!finished) await reader.cancel().catch(() => undefined); // the loop broke out, or it dropped
      }
      if (expired) {
        try {
          // The token the stream was opened with ran out: a new one, unless another call got one already.
          if (token !== null && !(await this.refreshAfter(token))) {
            throw new ApiProblem(401, { title: "Unauthorized", detail: "The session ended." }, new Headers());
          }
          continue;
        } catch (error) {
          if (error instanceof ApiProblem && !retryable(error.status)) throw error;
        }
      }
      failures += 1;
      await pause();
    }
  }

  /**
   * A conditional GET: with the ETag of what the app holds, `{ notModified: true }` when it is still
   * current (304, not an error), else the new answer as `get` gives it.
   */
  async getIfChanged<P extends PathsFor<"get">>(
    path: P,
    etag: string,
    ...args: Args<Operation<P, "get">>
  ): Promise<(ApiResult<Data<P, "get">> & { notModified: false }) | NotModified> {
    const options = { ...((args[0] ?? {}) as AnyOptions) };
    options.headers = { ...options.headers, "If-None-Match": etag };
    const result = await this.request("get", path, options);
    if (result.status === 304) {
      return { notModified: true, status: 304, etag: result.etag ?? etag, headers: result.headers };
    }
    return { ...(result as ApiResult<Data<P, "get">>), notModified: false };
  }

  /** @internal The untyped call the offline queue replays through. */
  call(method: Method, path: string, options: AnyOptions): Promise<ApiResult<unknown>> {
    return this.request(method, path, options);
  }

  private verb<M extends Method>(method: M): Call<M> {
    return ((path: string, options?: unknown) => this.request(method, path, options)) as Call<M>;
  }

  private async signIn<T extends { accessToken: string; refreshToken: string }>(
    call: () => Promise<ApiResult<T>>,
  ): Promise<T> {
    await this.restore();
    await this.setConsistencyToken(null); // a stream version belongs to one user
    const { data } = await call();
    await this.adopt(data);
    return data;
  }

  private async adopt(pair: { accessToken: string; refreshToken: string }): Promise<void> {
    await this.tokens.set(pair.refreshToken); // rotated: the old one is spent
    this.accessToken = pair.accessToken;
  }

  private async endSession(): Promise<void> {
    this.accessToken = null;
    await this.setConsistencyToken(null);
    await this.tokens.set(null);
    this.options.onSignedOut?.();
  }

  private async request(method: Method, path: string, args?: unknown): Promise<ApiResult<unknown>> {
    const options = (args ?? {}) as AnyOptions;
    await this.restore();
    const isPublic = PUBLIC.has(path);
    if (!isPublic && this.accessToken === null) await this.refreshAfter(null); // e.g. after a relaunch
    const token = isPublic ? null : this.accessToken;
    let response = await this.send(method, path, options, token);
    if (response.status === 401 && !isPublic && (await this.refreshAfter(token))) {
      response = await this.send(method, path, options, this.accessToken);
    }
    if (!response.ok && response.status !== 304) throw await problemOf(response);
    const written = response.headers.get(CONSISTENCY);
    if (method !== "get" && written !== null && /^\d+$/.test(written)) {
      const newest = Math.max(Number(written), this.consistencyToken ?? 0); // the newest write wins
      if (newest !== this.consistencyToken) await this.setConsistencyToken(newest);
    }
    const text = response.status === 204 || response.status === 304 ? "" : await response.text();
    const json = (response.headers.get("Content-Type") ?? "").includes("json");
    return {
      data: text === "" ? undefined : json ? JSON.parse(text) : text,
      status: response.status,
      etag: response.headers.get("ETag"),
      headers: response.headers,
    };
  }

  /** Refreshes once for every request that was refused `stale`; true when a new token is in hand. */
  private refreshAfter(stale: string | null): Promise<boolean> {
    if (this.accessToken !== stale) return Promise.resolve(this.accessToken !== null);
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refresh(): Promise<boolean> {
    const refreshToken = await this.tokens.get();
    if (refreshToken === null) return false;
    // A refresh whose answer was lost may be retried: within 30 s the server returns the same pair.
    const response = await this.send("post", "/v1/auth/refresh", { body: { refreshToken } }, null);
    if (response.status === 401) {
      await this.endSession(); // expired, revoked, or reused
      return false;
    }
    if (!response.ok) throw await problemOf(response);
    await this.adopt((await response.json()) as Data<"/v1/auth/refresh", "post">);
    return true;
  }

  private send(method: Method, path: string, options: AnyOptions, token: string | null): Promise<Response> {
    const headers = new Headers(options.headers);
    if (token !== null && !headers.has("Authorization")) headers.set("Authorization", `Bearer ${token}`);
    if (method === "get" && path !== STREAM && this.consistencyToken !== null && !headers.has(CONSISTENCY)) {
      headers.set(CONSISTENCY, String(this.consistencyToken));
    }
    if (options.ifMatch !== undefined) {
      headers.set("If-Match", typeof options.ifMatch === "number" ? `"${options.ifMatch}"` : options.ifMatch);
    }
    let body: BodyInit | undefined;
    const raw = options.body;
    if (typeof raw === "string" || raw instanceof FormData || raw instanceof Blob) {
      body = raw;
    } else if (raw !== undefined) {
      body = JSON.stringify(raw);
      headers.set("Content-Type", "application/json");
    }
    const init: RequestInit = { method: method.toUpperCase(), headers };
    if (body !== undefined) init.body = body;
    if (options.signal !== undefined) init.signal = options.signal;
    return this.fetcher(this.url(path, options), init);
  }

  private url(path: string, options: AnyOptions): string {
    const values = (options.path ?? {}) as Record<string, unknown>;
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = values[name];
      if (value === undefined || value === null) throw new TypeError(`${path}: missing path parameter ${name}`);
      return encodeURIComponent(String(value));
    });
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {})) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item !== undefined && item !== null) query.append(key, String(item));
      }
    }
    const search = query.toString();
    return `${this.baseUrl}${filled}${search === "" ? "" : `?${search}`}`;
  }
}

async function problemOf(response: Response): Promise<ApiProblem> {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await response.text());
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      body = parsed as Record<string, unknown>;
    }
  } catch {
    // not JSON (a proxy's error page, say): the status alone describes it
  }
  return new ApiProblem(response.status, body, response.headers);
}

/** What `GET /v1/stream` says: `ready` first, then changes; `expired` last before a reconnect. */
export interface StreamReady {
  /** The caller's projected stream version: fetch what is on screen, unless `resumed`. */
  version: number;
  expiresAt: string;
  heartbeatSeconds: number;
  /** Reopened with Last-Event-ID: the events that follow name what changed since (a `projected` if
   * the version moved, a `leaderboard` for every opened board); nothing else needs fetching. */
  resumed: boolean;
}
export type StreamEvent =
  | { type: "ready"; id: string; data: StreamReady }
  | { type: "projected"; id: string; data: { version: number } }
  | { type: "leaderboard"; data: { board: string; key: string } }
  | { type: "heartbeat"; data: Record<string, never> }
  | { type: "expired"; data: Record<string, never> };
export type StreamEventType = StreamEvent["type"];

export interface StreamOptions {
  /** Boards to hear about, as `<board>:<key>` (`weekly-volume:2026-W48`), at most 10. */
  leaderboard?: string[];
  signal?: AbortSignal;
  /** The id of the last event seen before (sent as Last-Event-ID on the first connection). */
  lastEventId?: string;
  /** The longest wait between reconnections; 30 s unless told. */
  maxBackoffMs?: number;
}

const STREAM_EVENTS = new Set<string>(["ready", "projected", "leaderboard", "heartbeat", "expired"]);

/** A parsed SSE message as a typed stream event; null for types this client does not know. */
export function streamEvent(message: SseMessage): StreamEvent | null {
  if (!STREAM_EVENTS.has(message.event)) return null;
  let data: unknown;
  try {
    data = JSON.parse(message.data === "" ? "{}" : message.data);
  } catch {
    return null;
  }
  const event = { type: message.event, data } as StreamEvent;
  if (event.type === "ready" || event.type === "projected") event.id = message.lastEventId;
  return event;
}

function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms * (0.8 + Math.random() * 0.4)); // jitter: phones do not reconnect as one
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done);
  });
}

type WriteMethod = Exclude<Method, "get">;

/** A write waiting for the network: what to send, as JSON. */
export interface QueuedWrite {
  key: string;
  method: WriteMethod;
  path: string;
  options: { path?: object; query?: object; body?: unknown; ifMatch?: number | string };
  queuedAt: string;
}

export interface ReplayReport {
  /** Sent and answered 2xx: `status` 201 the first time, 200 for a write the server had already. */
  sent: { write: QueuedWrite; status: number; data: unknown }[];
  /** Refused for good (4xx other than 408 and 429) and dropped from the queue. */
  rejected: { write: QueuedWrite; problem: ApiProblem }[];
  /** Still queued: the replay stopped at a network error, a 5xx, a 408 or a 429 (`error`). */
  remaining: number;
  error?: unknown;
}

/**
 * Writes made offline, kept in the client's storage in order and sent by `replay()`. Each write
 * carries its own ids (a workout id made on the phone), so a replay whose answers were lost can be
 * replayed again: the server answers 200 for what it already has.
 */
export class OfflineQueue {
  private items: Promise<QueuedWrite[]> | null = null;
  private saving: Promise<void> = Promise.resolve();
  private replaying: Promise<ReplayReport> | null = null;

  constructor(
    private readonly client: IronlogClient,
    private readonly storage: KeyValueStorage,
    private readonly storageKey: string,
  ) {}

  /** Queue a write; typed as the call it becomes. The body must be JSON (no FormData or Blob). */
  async enqueue<M extends WriteMethod, P extends PathsFor<M>>(
    method: M,
    path: P,
    ...args: Args<Operation<P, M>>
  ): Promise<QueuedWrite> {
    const given = (args[0] ?? {}) as AnyOptions;
    if (given.body instanceof FormData || given.body instanceof Blob) {
      throw new TypeError("only JSON bodies can be queued");
    }
    const options: QueuedWrite["options"] = {};
    if (given.path !== undefined) options.path = given.path;
    if (given.query !== undefined) options.query = given.query;
    if (given.body !== undefined) options.body = given.body;
    if (given.ifMatch !== undefined) options.ifMatch = given.ifMatch;
    const write: QueuedWrite = { key: newKey(), method, path, options, queuedAt: new Date().toISOString() };
    const items = await this.load();
    items.push(write);
    await this.save(items);
    return write;
  }

  /** The writes not yet sent, oldest first. */
  async pending(): Promise<QueuedWrite[]> {
    return [...(await this.load())];
  }

  /** Send the queued writes in order; one replay at a time (a second call shares the first). */
  replay(): Promise<ReplayReport> {
    this.replaying ??= this.run().finally(() => {
      this.replaying = null;
    });
    return this.replaying;
  }

  private async run(): Promise<ReplayReport> {
    const items = await this.load();
    const report: ReplayReport = { sent: [], rejected: [], remaining: 0 };
    while (items.length > 0) {
      const write = items[0] as QueuedWrite;
      try {
        const result = await this.client.call(write.method, write.path, write.options);
        report.sent.push({ write, status: result.status, data: result.data });
      } catch (error) {
        if (!(error instanceof ApiProblem) || retryable(error.status)) {
          report.error = error;
          break;
        }
        report.rejected.push({ write, problem: error });
      }
      items.shift();
      await this.save(items);
    }
    report.remaining = items.length;
    return report;
  }

  private load(): Promise<QueuedWrite[]> {
    this.items ??= this.storage.getItem(this.storageKey).then((kept) => {
      const parsed: unknown = kept === null ? [] : JSON.parse(kept);
      return Array.isArray(parsed) ? (parsed as QueuedWrite[]) : [];
    });
    return this.items;
  }

  private save(items: QueuedWrite[]): Promise<void> {
    const text = JSON.stringify(items);
    this.saving = this.saving.then(() =>
      items.length === 0 ? this.storage.removeItem(this.storageKey) : this.storage.setItem(this.storageKey, text),
    );
    return this.saving;
  }
}

function newKey(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
