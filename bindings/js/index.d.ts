// Type declarations for the kalam client (bindings/js/index.js, and
// index.node.js under Node).
//
// 64-bit positions are exact: every _seq, seq and from the client gives is a
// decimal string (as KalamDB writes them), never a number, which would lose
// digits above 2^53. Where a position goes in (LiveOptions.from), a string
// or a BigInt is accepted and a number is refused with INVALID_CONFIG.
// Compare positions with BigInt(a) < BigInt(b), not as strings.

/** A lifecycle state; see lifecycleDiagram(). */
export type State =
  | 'Unauthed' | 'Authed' | 'Connecting' | 'Backoff'
  | 'Connected' | 'Live' | 'Draining' | 'Closed';

/** Why the auth provider is asked. */
export type AuthReason = 'initial' | 'refresh' | 'rejected' | 'reconnect';

/** What an auth provider may return: a JWT, or a token pair (KalamDB's login answer is accepted as it is). */
export type Tokens =
  | string
  | { accessToken: string; refreshToken?: string }
  | { access_token: string; refresh_token?: string };

/**
 * Credentials: a function asked on start, before expiry, after a refusal
 * and before every reconnect (it may return a Promise); a user name and
 * password (the client logs in and refreshes by itself); or a fixed token.
 */
export type Auth =
  | ((req: { reason: AuthReason }) => Tokens | Promise<Tokens>)
  | { user: string; password: string }
  | { token: string; refreshToken?: string };

/** A lifecycle move and why it happened. */
export interface Transition {
  from: State;
  to: State;
  trigger: string;
  /** Why, when the trigger alone does not say: a lost socket, a refusal, a give-up. */
  reason?: KalamError;
  /** WebSocket close code behind the move, or 0. */
  code: number;
  /** Connection attempt: starting (to Connecting) or failed (to Backoff); 0 otherwise. */
  attempt: number;
  /** Delay before the next attempt, on entering Backoff; 0 otherwise. */
  retryInMs: number;
}

export interface ConnectionEvent {
  connected: boolean;
  /** The close code when the socket ended (0 when it never opened). */
  code: number;
  /** Why the socket ended: the close reason, or the error's message. */
  reason: string;
  recoverable: boolean;
  error?: KalamError;
  /**
   * Reconnect tries: on a disconnect, the number of the try that comes next
   * (1 after a drop, 2 once that try failed too, …); on a connect, the try
   * that succeeded (1 for a first connection).
   */
  attempt: number;
  /**
   * How long (ms) until the next try, when the engine reports it with the
   * event; undefined otherwise (the Backoff state change tells it too).
   */
  retryIn?: number;
}

export interface ClientConfig {
  /** Base URL of the server; relative URLs resolve against the page (default: the page's origin). */
  url?: string;
  auth?: Auth;
  namespace?: string;
  eagerConnect?: boolean;
  refreshMarginMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  connectTimeoutMs?: number;
  /**
   * Give-up policy for a server that stays unreachable: after this many
   * failed attempts in a row, or this long, waiting calls fail with code
   * GAVE_UP. Default: keep trying.
   */
  giveUpAttempts?: number;
  giveUpAfterMs?: number;
  requestTimeoutMs?: number;
  /**
   * Bytes each subscription may buffer for a slow reader before it pauses
   * on the server (default 16 MiB, as natively: a whole 50,000-row burst).
   */
  bufferBytes?: number;
  /** Optional cap on the events each subscription buffers; default none (bufferBytes rules). */
  eventBuffer?: number;
  disableCompression?: boolean;
  seed?: number;
  /**
   * Allow a plain http:// url to a host that is not loopback (a loopback IP
   * or "localhost"). Without it createClient refuses such a url: passwords,
   * tokens and rows would cross the network in clear text.
   */
  allowInsecureHTTP?: boolean;
  /** Debug logging to the console (tokens are never logged). */
  debug?: boolean;
  /** false: do not follow the page's online/offline and visibility events. Default true. */
  lifecycle?: boolean;
  /** Where kalam.wasm comes from, when not next to index.js. */
  wasm?: LoadOptions['wasm'];
  onStateChange?: (t: Transition) => void;
  onConnection?: (ev: ConnectionEvent) => void;
  /** A socket is open and authenticated (onConnection with connected: true). */
  onConnect?: (ev: ConnectionEvent) => void;
  /** A socket ended or failed to open (onConnection with connected: false). */
  onDisconnect?: (ev: ConnectionEvent) => void;
  onError?: (err: KalamError, recoverable: boolean) => void;
}

/** Stable error codes. */
export type ErrorCode =
  | 'CLOSED' | 'DRAINING' | 'NO_CREDENTIALS' | 'NO_NAMESPACE' | 'INVALID_NAMESPACE'
  | 'EMPTY_SQL' | 'UNKNOWN_SUBSCRIPTION' | 'DRAIN_TIMEOUT' | 'CREDENTIALS_REJECTED'
  | 'DEAD_LINK' | 'CONNECT_TIMEOUT' | 'PROTOCOL' | 'INVALID_SUBSCRIPTION_ID' | 'GAVE_UP'
  | 'INVALID_CONFIG' | 'NO_KEY' | 'VIEW_TOO_LARGE' | 'TOKEN_EXPIRED' | 'MALFORMED_TOKEN'
  | 'TIMEOUT' | 'ABORTED' | 'QUERY' | 'SERVER' | 'REFUSED' | 'CALLBACK' | 'INTERNAL'
  /** The server refused a subscription for a cap (per connection or per user). */
  | 'SUBSCRIPTION_LIMIT'
  /** The server never acknowledged a subscription, after retries. */
  | 'SUBSCRIBE_TIMEOUT' | 'GAP';

export interface KalamError extends Error {
  name: 'KalamError';
  code: ErrorCode;
  /** QUERY: HTTP status (0 for a network failure). */
  status?: number;
  /** QUERY, SERVER: the server's error code, e.g. "TOKEN_EXPIRED". */
  serverCode?: string;
  temporary?: boolean;
  /** SERVER: the subscription concerned. */
  subscription?: string;
  /** REFUSED: the lifecycle refused a command. */
  state?: State;
  trigger?: string;
  guard?: string;
  /** DRAIN_TIMEOUT: what the drain did finish. */
  outcome?: DrainOutcome;
}

export function isKalamError(err: unknown): err is KalamError;

/** A cell as KalamDB sends it: 64-bit integers (and _seq) are decimal strings. */
export type Cell = null | boolean | number | string | unknown[] | { [k: string]: unknown };
export type Row = Record<string, Cell>;

export interface Column { name: string; type: string; primaryKey: boolean; notNull: boolean }

export interface StatementResult {
  columns: Column[];
  rows: Row[];
  rowCount: number;
  message?: string;
  asUser?: string;
}

export class Result {
  took: number;
  statements: StatementResult[];
  /** Rows of the first statement that returned columns. */
  readonly rows: Row[];
  readonly columns: Column[];
}

export type EventKind = 'subscribed' | 'snapshot' | 'insert' | 'update' | 'delete' | 'resumed';

export interface LiveEvent {
  kind: EventKind;
  /** The subscription's position after this event (decimal string). */
  seq: string;
  /** New rows: snapshot batches, inserts, updates (key + changed columns). */
  rows?: Row[];
  /** Previous values (updates) or the deleted row (deletes). */
  old?: Row[];
  /** subscribed, resumed. */
  columns?: Column[];
  /** snapshot. */
  batch?: number;
  last?: boolean;
  /**
   * resumed: the position it resumed after, and what may be missing:
   * 'no-deletes' (every insert and update is there, deletes may be missing)
   * or 'broken' (a gap that could not be repaired; gap says why).
   */
  from?: string;
  continuity?: 'full' | 'no-deletes' | 'broken';
  /** resumed with continuity 'broken': why the gap could not be repaired. */
  gap?: string;
}

export interface LiveOptions {
  batchSize?: number;
  lastRows?: number;
  /** Start after this _seq: a decimal string or a BigInt, never a number. */
  from?: string | bigint;
  noSnapshot?: boolean;
  wait?: boolean;
  id?: string;
}

export class Subscription implements AsyncIterable<LiveEvent> {
  /** The subscription id on the wire, once ready. */
  id?: string;
  /** The SQL it runs. */
  readonly sql: string;
  /** Settles once the subscription is registered, or rejects (e.g. NO_NAMESPACE). */
  readonly ready: Promise<void>;
  /** Callback form only: settles when the subscription ends. */
  readonly done: Promise<void> | null;
  /** The _seq of the last row delivered (decimal string), or null. */
  position(): string | null;
  /**
   * The next batch of events (every event buffered at that moment), or null
   * once the subscription has ended. One reader at a time, and not with the
   * onEvent callback form. Events a reader has not asked for wait in the
   * client's bounded buffer (bufferBytes); a reader a whole buffer behind pauses
   * the subscription, which resumes from its last row when it catches up.
   */
  nextBatch(): Promise<LiveEvent[] | null>;
  [Symbol.asyncIterator](): AsyncIterator<LiveEvent>;
  close(): Promise<void>;
}

export interface RowsOptions { key?: string[]; batchSize?: number; limit?: number }

export class LiveRows {
  readonly sql: string;
  /** The rows, oldest _seq first (a fresh array after each change). */
  readonly rows: Row[];
  readonly length: number;
  readonly ready: boolean;
  readonly resyncs: number;
  readonly error: KalamError | null;
  subscribe(fn: (view: LiveRows) => void): () => void;
  waitFor(pred: (rows: Row[]) => boolean): Promise<Row[]>;
  close(): Promise<void>;
}

export interface DrainOutcome {
  timedOut: boolean;
  aborted: boolean;
  queriesCompleted: number;
  queriesAbandoned: number;
  loadsCompleted: number;
  loadsAbandoned: number;
  subscriptions: number;
}

export interface SubscriptionInfo {
  /** The wire id (null for a view, or before the server registered it). */
  id: string | null;
  sql: string;
  /** "events": live(); "rows": liveRows(). */
  kind: 'events' | 'rows';
  /** live(): the last row's _seq (decimal string) or null; null for views. */
  position: string | null;
}

export interface LifecycleStats { online: number; offline: number; wakes: number; lastHiddenMs: number }

export class Client {
  readonly state: State;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<Result>;
  /** The first row of the result, or null when there is none. */
  queryOne(sql: string, params?: unknown[]): Promise<Row | null>;
  /** Every row of the result (of the first statement that returned columns). */
  queryAll(sql: string, params?: unknown[]): Promise<Row[]>;
  queryIn(namespace: string, sql: string, params?: unknown[]): Promise<Result>;
  /**
   * Starts a live query: iterate it with for await (or nextBatch), or pass
   * onEvent, which is called synchronously for every event, in order (done
   * settles when the subscription ends; if onEvent throws, done rejects with
   * that and nothing more is delivered).
   */
  live(sql: string, options?: LiveOptions, onEvent?: (ev: LiveEvent) => void): Subscription;
  liveRows(sql: string, options?: RowsOptions, onChange?: (view: LiveRows) => void): Promise<LiveRows>;
  setNamespace(namespace: string): Promise<void>;
  namespace(): Promise<string>;
  /** The live queries and views this client started that are still running. */
  subscriptions(): SubscriptionInfo[];
  /** Closes every live query and view of this client. */
  unsubscribeAll(): Promise<void>;
  /** Gets credentials now (logs in, or asks the provider) instead of at first use. */
  login(): Promise<void>;
  /** Replaces the access token now, without touching the socket or the subscriptions. */
  refreshToken(): Promise<void>;
  updateAuth(creds: Tokens): Promise<void>;
  freshAuth(): Promise<void>;
  networkChanged(online: boolean): Promise<void>;
  wake(): Promise<void>;
  lifecycleStats(): LifecycleStats;
  drain(options?: { timeoutMs?: number }): Promise<DrainOutcome>;
  close(): Promise<void>;
}

export interface LoadOptions {
  wasm?: string | URL | Response | Promise<Response> | ArrayBuffer | ArrayBufferView;
}

export function load(options?: LoadOptions): Promise<unknown>;
export function createClient(config?: ClientConfig): Promise<Client>;
export function lifecycleDiagram(): Promise<string>;
export function states(): Promise<State[]>;
