/**
 * A small typed fetch client for the Ironlog API. Paths, parameters, bodies and answers are typed
 * from `paths` in schema.ts (generated from the OpenAPI document). The client keeps the access
 * token in memory and the refresh token in a pluggable store, refreshes once on a 401 (concurrent
 * 401s share one refresh), sends the newest `X-Consistency-Token` of its writes on reads, and
 * throws every error answer as an `ApiProblem` (RFC 9457). No dependencies: only global fetch.
 */
import type { components, paths } from "./schema";

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

type ProblemBody = components["schemas"]["Problem"];
export type FieldError = components["schemas"]["FieldError"];

/** An error answer (RFC 9457 problem details); other members, such as `currentVersion`, go in `extensions`. */
export class ApiProblem extends Error {
  readonly type: string;
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

export interface ClientOptions {
  baseUrl: string;
  tokens?: TokenStore;
  fetch?: typeof fetch;
  /** Called when the session ends: logout, or a refresh token the server no longer accepts. */
  onSignedOut?: () => void;
}

const CONSISTENCY = "X-Consistency-Token";
const PUBLIC = new Set<string>(["/v1/auth/register", "/v1/auth/login", "/v1/auth/refresh"]);
type AnyOptions = CallOptions & { path?: object; query?: object; body?: unknown };
type Data<P extends PathsFor<M>, M extends Method> = ResponseData<Operation<P, M>>;
/** One HTTP method: the path picks the operation, which types the options and the answer. */
export type Call<M extends Method> = <P extends PathsFor<M>>(
  path: P,
  ...args: Args<Operation<P, M>>
) => Promise<ApiResult<Data<P, M>>>;
type Body<P extends PathsFor<"post">> = RequestOptions<Operation<P, "post">>["body"];

export class IronlogClient {
  private readonly baseUrl: string;
  private readonly tokens: TokenStore;
  private readonly fetcher: typeof fetch;
  private accessToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  /** The newest stream version this client wrote; reads wait until the read models include it. */
  consistencyToken: number | null = null;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.tokens = options.tokens ?? memoryTokenStore();
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
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

  private verb<M extends Method>(method: M): Call<M> {
    return ((path: string, options?: unknown) => this.request(method, path, options)) as Call<M>;
  }

  private async signIn<T extends { accessToken: string; refreshToken: string }>(
    call: () => Promise<ApiResult<T>>,
  ): Promise<T> {
    this.consistencyToken = null; // a stream version belongs to one user
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
    this.consistencyToken = null;
    await this.tokens.set(null);
    this.options.onSignedOut?.();
  }

  private async request(method: Method, path: string, args?: unknown): Promise<ApiResult<unknown>> {
    const options = (args ?? {}) as AnyOptions;
    const isPublic = PUBLIC.has(path);
    if (!isPublic && this.accessToken === null) await this.refreshAfter(null); // e.g. after a relaunch
    const token = isPublic ? null : this.accessToken;
    let response = await this.send(method, path, options, token);
    if (response.status === 401 && !isPublic && (await this.refreshAfter(token))) {
      response = await this.send(method, path, options, this.accessToken);
    }
    if (!response.ok) throw await problemOf(response);
    const written = response.headers.get(CONSISTENCY);
    if (method !== "get" && written !== null && /^\d+$/.test(written)) {
      this.consistencyToken = Math.max(Number(written), this.consistencyToken ?? 0); // the newest write wins
    }
    const text = response.status === 204 ? "" : await response.text();
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
    if (method === "get" && this.consistencyToken !== null && !headers.has(CONSISTENCY)) {
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
