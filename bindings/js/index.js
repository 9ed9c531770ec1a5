// kalam — the Go KalamDB client compiled to WebAssembly, for browsers (and
// Node, through index.node.js).
//
// The Go side (wasm/browser) does the work: credentials, the lifecycle,
// the WebSocket, reconnects and resumes. This module loads it and gives it
// a JavaScript shape. Values cross the boundary as whole JSON documents
// (one query result, one batch of live events), never field by field.

import './wasm_exec.js';

const API_VERSION = 2;

let loading = null;

/**
 * Loads and starts the WebAssembly module once; later calls return the same
 * promise. options.wasm may be a URL (string or URL), a Response, a
 * Promise of one, or the module's bytes (ArrayBuffer / typed array), for
 * hosts where fetch cannot reach it (Node reading from disk).
 */
export function load(options = {}) {
  if (!loading) {
    loading = instantiate(options);
    loading.catch(() => { loading = null; });
  }
  return loading;
}

async function instantiate({ wasm } = {}) {
  if (typeof globalThis.Go !== 'function') {
    throw new Error('kalam: wasm_exec.js did not load (globalThis.Go is missing)');
  }
  const go = new globalThis.Go();
  const ready = new Promise((resolve) => { globalThis.__kalamgoReady = resolve; });
  const { instance } = await (wasm !== undefined
    ? instantiateFrom(wasm, go.importObject)
    : instantiateDefault(go.importObject));
  go.run(instance).then(
    () => console.error('kalam: the WebAssembly module exited'),
    (err) => console.error('kalam: the WebAssembly module crashed', err),
  );
  const api = await ready;
  delete globalThis.__kalamgoReady;
  if (api.version !== API_VERSION) {
    throw new Error(`kalam: kalam.wasm speaks API ${api.version}, index.js expects ${API_VERSION}: rebuild with make wasm`);
  }
  return api;
}

// What the host adds where the web platform falls short: index.node.js
// sets readFile so that a file: URL (the module's own location under Node)
// is read from disk. Not part of the API.
export const _platform = { readFile: null };

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

function wasmBytes(buf, where) {
  const u8 = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (u8.length < 4 || WASM_MAGIC.some((b, i) => u8[i] !== b)) {
    const head = Array.from(u8.subarray(0, 16), (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    throw new Error(`kalam: ${where} is not kalam.wasm (it starts with "${head}"): ` +
      'the server or bundler answered something else there; serve the package\'s kalam.wasm at that URL ' +
      'or pass its URL or bytes as the wasm option');
  }
  return u8;
}

// The module next to this file. Vite's dev server runs this file from its
// dependency cache (node_modules/.vite/deps/), away from kalam.wasm, and
// answers that URL with its index.html; there the package's own copy, two
// directories up under node_modules, is tried next.
async function instantiateDefault(imports) {
  try {
    return await instantiateFrom(new URL('./kalam.wasm', import.meta.url), imports);
  } catch (err) {
    if (!/\/\.vite\/deps\//.test(import.meta.url)) throw err;
    const own = ['..', '..', '@kalamgo', 'kalam', 'kalam.wasm'].join('/');
    return instantiateFrom(new URL(own, import.meta.url), imports);
  }
}

async function instantiateFrom(source, imports) {
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    return WebAssembly.instantiate(wasmBytes(source, 'the wasm option'), imports);
  }
  let response = source;
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, globalThis.location?.href);
    if (url.protocol === 'file:') {
      if (!_platform.readFile) {
        throw new Error(`kalam: cannot read ${url.href} here: under Node import the package by name (its "node" export reads from disk), or pass the bytes as the wasm option`);
      }
      return WebAssembly.instantiate(wasmBytes(await _platform.readFile(url), url.href), imports);
    }
    response = fetch(url);
  }
  response = await response;
  const where = response.url || 'the wasm option';
  if (!response.ok) {
    throw new Error(`kalam: fetching ${where} failed with HTTP ${response.status}`);
  }
  if (typeof WebAssembly.instantiateStreaming === 'function' &&
      (response.headers.get('content-type') || '').split(';')[0].trim() === 'application/wasm') {
    return WebAssembly.instantiateStreaming(response, imports);
  }
  return WebAssembly.instantiate(wasmBytes(await response.arrayBuffer(), where), imports);
}

/** The lifecycle as a Mermaid state diagram. */
export async function lifecycleDiagram() {
  return (await load()).lifecycleDiagram();
}

/** The lifecycle's state names, in order. */
export async function states() {
  return Array.from((await load()).states());
}

/** isKalamError tells the client's errors (which carry a stable code) apart. */
export function isKalamError(err) {
  return err instanceof Error && err.name === 'KalamError' && typeof err.code === 'string';
}

function unwrap(v) {
  if (v instanceof Error) throw v;
  return v;
}

// JSON.stringify with BigInt values written as decimal strings, the way
// KalamDB writes 64-bit integers.
function toJSON(v) {
  return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x));
}

function baseURL(url) {
  const base = globalThis.location ? globalThis.location.href : undefined;
  const u = new URL(url ?? '/', base);
  return u.origin + u.pathname.replace(/\/+$/, '');
}

const DATA_KEYS = new Set([
  'url', 'namespace', 'eagerConnect', 'refreshMarginMs', 'backoffMinMs', 'backoffMaxMs',
  'pingIntervalMs', 'pongTimeoutMs', 'connectTimeoutMs', 'requestTimeoutMs', 'eventBuffer',
  'bufferBytes', 'disableCompression', 'seed', 'debug', 'lifecycle', 'allowInsecureHTTP',
]);

/**
 * Creates a client. See index.d.ts for the configuration. The client starts
 * resolving credentials at once; it opens its socket on connect(), on the
 * first live query, or at once with eagerConnect.
 */
export async function createClient(config = {}) {
  const api = await load(config.wasm !== undefined ? { wasm: config.wasm } : {});
  const data = {};
  for (const [k, v] of Object.entries(config)) {
    if (DATA_KEYS.has(k) && v !== undefined) data[k] = v;
  }
  data.url = baseURL(config.url);
  const hooks = {
    onStateChange: config.onStateChange,
    onConnection: connectionHook(config),
    onError: config.onError,
  };
  const a = config.auth;
  if (typeof a === 'function') {
    hooks.auth = a;
  } else if (a && typeof a === 'object') {
    if (a.user !== undefined) { data.user = a.user; data.password = a.password ?? ''; }
    if (a.token !== undefined) data.token = a.token;
    if (a.refreshToken !== undefined) data.refreshToken = a.refreshToken;
  }
  return new Client(unwrap(api.create(JSON.stringify(data), hooks)));
}

// connectionHook fans the engine's connection events out to onConnection,
// onConnect and onDisconnect, numbering reconnect tries: on a disconnect,
// attempt is the number of the try that comes next (1 after a drop, 2
// after that try failed, …); on a connect, the try that succeeded (1 for a
// first connection). retryIn (ms) is passed on when the engine gives it.
function connectionHook({ onConnection, onConnect, onDisconnect }) {
  if (!onConnection && !onConnect && !onDisconnect) return undefined;
  let tries = 0;
  return (ev) => {
    if (ev.connected) {
      ev.attempt = Math.max(tries, 1);
      tries = 0;
    } else {
      ev.attempt = ++tries;
    }
    onConnection?.(ev);
    if (ev.connected) onConnect?.(ev); else onDisconnect?.(ev);
  };
}

// checkPositions refuses a JS number where a 64-bit position goes: above
// 2^53 a number has already lost digits, so only strings and BigInts pass.
function checkPositions(options) {
  for (const k of ['from']) {
    const v = options?.[k];
    if (v === undefined || v === null || typeof v === 'bigint') continue;
    if (typeof v !== 'string' || !/^-?[0-9]+$/.test(v)) {
      const err = new Error(`kalam: options.${k} must be a decimal string or a BigInt (a _seq, exact to 64 bits), not ${typeof v === 'number' ? 'a number' : JSON.stringify(v)}`);
      err.name = 'KalamError';
      err.code = 'INVALID_CONFIG';
      throw err;
    }
  }
}

export class Client {
  #h;
  // The live subscriptions and views this client started and that have not
  // ended or been closed: subscriptions() lists them, unsubscribeAll()
  // closes them.
  #live = new Set();

  constructor(handle) { this.#h = handle; }

  /** The current lifecycle state, e.g. "Live". */
  get state() { return this.#h.state(); }

  toString() { return this.#h.describe(); }

  connect() { return this.#h.connect(); }

  disconnect() { return this.#h.disconnect(); }

  async query(sql, params) {
    const json = await this.#h.query(sql, params === undefined ? undefined : toJSON(params));
    return new Result(JSON.parse(json));
  }

  /** The first row of the result, or null when there is none. */
  async queryOne(sql, params) {
    return (await this.query(sql, params)).rows[0] ?? null;
  }

  /** Every row of the result (of the first statement that returned columns). */
  async queryAll(sql, params) {
    return (await this.query(sql, params)).rows;
  }

  async queryIn(namespace, sql, params) {
    const json = await this.#h.query(sql, params === undefined ? undefined : toJSON(params), namespace);
    return new Result(JSON.parse(json));
  }

  /**
   * Starts a live query. Iterate it with for await, or pass onEvent for the
   * callback form (then sub.done settles when it ends).
   */
  live(sql, options = {}, onEvent) {
    checkPositions(options);
    const sub = new Subscription(this.#h.live(sql, toJSON(options)), sql, () => this.#live.delete(sub));
    this.#live.add(sub);
    if (typeof onEvent === 'function') sub._pump(onEvent);
    return sub;
  }

  /** Starts a materialized view; resolves once it is registered. */
  async liveRows(sql, options = {}, onChange) {
    const view = new LiveRows(onChange, sql, () => this.#live.delete(view));
    view._attach(await this.#h.liveRows(sql, toJSON(options), view._notify));
    this.#live.add(view);
    return view;
  }

  /**
   * The live queries this client started that are still running: for each,
   * its id, SQL, kind ("events" for live(), "rows" for liveRows()) and, for
   * live(), its position (the last row's _seq, a decimal string, or null).
   */
  subscriptions() {
    return Array.from(this.#live, (s) => ({
      id: s.id ?? null,
      sql: s.sql,
      kind: s instanceof LiveRows ? 'rows' : 'events',
      position: s instanceof Subscription ? s.position() : null,
    }));
  }

  /** Closes every live query and view of this client; resolves once all are closed. */
  async unsubscribeAll() {
    const all = Array.from(this.#live);
    await Promise.all(all.map((s) => s.close().catch(() => {})));
  }

  /**
   * Gets credentials now instead of at first use: logs in with the
   * configured user and password, or asks the auth provider. Rejects when
   * none can be had (e.g. CREDENTIALS_REJECTED).
   */
  login() { return this.#h.freshAuth(); }

  /**
   * Replaces the access token now (with the refresh token when there is
   * one, else by logging in or asking the provider again), without
   * touching the socket or the subscriptions.
   */
  refreshToken() { return this.#h.freshAuth(); }

  setNamespace(namespace) { return this.#h.setNamespace(namespace); }

  namespace() { return this.#h.namespace(); }

  /** Installs credentials pushed by the application: a token or {accessToken, refreshToken}. */
  updateAuth(creds) {
    if (typeof creds === 'string') return this.#h.updateAuth(creds);
    return this.#h.updateAuth(creds?.accessToken ?? creds?.access_token, creds?.refreshToken ?? creds?.refresh_token);
  }

  freshAuth() { return this.#h.freshAuth(); }

  networkChanged(online) { return this.#h.networkChanged(!!online); }

  wake() { return this.#h.wake(); }

  lifecycleStats() { return this.#h.lifecycleStats(); }

  async drain({ timeoutMs } = {}) {
    return JSON.parse(await this.#h.drain(timeoutMs));
  }

  close() { return this.#h.close(); }
}

export class Result {
  constructor(doc) {
    this.took = doc.took;
    this.statements = doc.statements;
  }

  /** The rows of the first statement that returned columns. */
  get rows() {
    const st = this.statements.find((s) => s.columns.length > 0);
    return st ? st.rows : [];
  }

  get columns() {
    const st = this.statements.find((s) => s.columns.length > 0);
    return st ? st.columns : [];
  }
}

// A subscription that drain() ended has ended as asked, not failed: its
// iterator finishes and done resolves.
function endedByDrain(err) {
  return err != null && err.code === 'DRAINING';
}

export class Subscription {
  #handle = null;
  // Batches Go pushed that no reader has taken yet, in order: {json} or
  // {err} or {end}. Go pushes at most one batch nobody asked for, then
  // waits for want(): a slow reader leaves events in the Go client's
  // bounded buffer (which pauses the subscription), not here.
  #queue = [];
  #holding = false;  // Go waits for want()
  #waiter = null;    // the pending nextBatch's {resolve, reject}
  #listening = false;
  #ended = false;
  #closed = null;    // the close() in progress or done
  #position = null;  // kept when the handle is released
  #buf = [];
  #at = 0;

  #forget;

  constructor(handlePromise, sql, forget) {
    this.sql = sql;
    this.#forget = forget;
    /** Settles once the server has the subscription registered (or refused it). */
    this.ready = handlePromise.then((h) => {
      this.#handle = h;
      this.id = h.id;
    });
    this.ready.catch(() => { this.#forget?.(); }); // reported through next()/done as well
    this.done = null;
  }

  /** The _seq (decimal string) of the last row delivered, or null. */
  position() { return this.#handle ? this.#handle.position() : this.#position; }

  #listen(deliver) {
    if (this.#listening || !this.#handle) return;
    this.#listening = true;
    unwrap(this.#handle.listen(deliver));
  }

  // Called by Go with one batch (a JSON array), or (undefined, error) when
  // the subscription failed, or () when it ended. Returns true to make Go
  // hold further batches until want().
  #deliver = (json, err) => {
    if (endedByDrain(err)) err = undefined;
    const item = err ? { err } : (json == null ? { end: true } : { json });
    if (item.json === undefined) this.#release();
    const w = this.#waiter;
    if (w && this.#queue.length === 0) {
      this.#waiter = null;
      if (item.err) w.reject(item.err); else w.resolve(item.json ?? null);
      return false;
    }
    this.#queue.push(item);
    if (item.json !== undefined) this.#holding = true;
    return true;
  };

  /** Resolves to the next batch of events (an array), or null once it has ended. */
  async nextBatch() {
    if (this.#ended) return null;
    await this.ready;
    if (this.done !== null) throw new Error('kalam: this subscription delivers to its onEvent callback');
    if (this.#waiter) throw new Error('kalam: one reader at a time per subscription');
    let json;
    if (this.#queue.length > 0) {
      const item = this.#queue.shift();
      if (this.#holding && this.#queue.every((it) => it.json === undefined)) {
        this.#holding = false;
        this.#handle?.want();
      }
      if (item.err) { this.#ended = true; throw item.err; }
      json = item.json ?? null;
    } else {
      json = await new Promise((resolve, reject) => {
        this.#waiter = { resolve, reject };
        this.#listen(this.#deliver);
      }).catch((err) => { this.#ended = true; throw err; });
    }
    if (json == null) { this.#ended = true; return null; }
    return JSON.parse(json);
  }

  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        if (this.#at >= this.#buf.length) {
          const batch = await this.nextBatch();
          if (batch === null) return { value: undefined, done: true };
          this.#buf = batch;
          this.#at = 0;
        }
        return { value: this.#buf[this.#at++], done: false };
      },
      return: async () => {
        await this.close().catch(() => {});
        return { value: undefined, done: true };
      },
    };
  }

  // The callback form: Go calls onEvent for every event, synchronously, one
  // batch per call. It never holds: while onEvent runs, Go waits, and a
  // consumer slower than the stream fills the Go client's buffer. If
  // onEvent throws, done rejects with that and nothing more is delivered
  // (the subscription stays until closed, paused once its buffer is full).
  _pump(onEvent) {
    this.done = new Promise((resolve, reject) => {
      let stopped = false;
      const deliver = (json, err) => {
        if (stopped) return true;
        if (endedByDrain(err)) err = undefined;
        if (err || json == null) {
          stopped = true;
          this.#release();
          if (err) reject(err); else resolve();
          return true;
        }
        try {
          for (const ev of JSON.parse(json)) onEvent(ev);
        } catch (e) {
          stopped = true;
          reject(e);
          return true;
        }
        return false;
      };
      this.ready.then(() => this.#listen(deliver)).catch((e) => { stopped = true; reject(e); });
    });
  }

  // Once the subscription has ended or been closed, the Go side's functions
  // for it are released; what Go already pushed is still read from #queue.
  #release() {
    this.#forget?.();
    const h = this.#handle;
    if (!h) return;
    this.#position = h.position() ?? this.#position;
    this.#handle = null;
    h.dispose();
  }

  close() {
    this.#closed ??= (async () => {
      await this.ready;
      const h = this.#handle;
      if (!h) return; // ended by itself, already released
      this.#position = h.position(); // the engine forgets it once closed
      try {
        await h.close();
      } finally {
        this.#release();
      }
    })();
    return this.#closed;
  }
}

export class LiveRows {
  #h = null;
  #rows = null;
  #json = '[]';
  #listeners = new Set();
  #error = null;
  #closed = null;
  // what the getters answer once the view is closed and its handle released
  #final = { length: 0, ready: false, resyncs: 0, error: null };

  #forget;

  constructor(onChange, sql, forget) {
    this.sql = sql;
    this.#forget = forget;
    if (typeof onChange === 'function') this.#listeners.add(onChange);
    // Called by the Go side with the whole row set after each change.
    this._notify = (json, ready, err) => {
      if (err) {
        this.#error = err;
      } else {
        this.#json = json;
        this.#rows = null;
      }
      for (const fn of this.#listeners) {
        try { fn(this); } catch (e) { console.error('kalam: a LiveRows listener threw', e); }
      }
    };
  }

  _attach(h) { this.#h = h; this.#json = h.rows(); }

  /** A copy of the rows, oldest _seq first. */
  get rows() {
    if (this.#rows === null) this.#rows = JSON.parse(this.#json);
    return this.#rows;
  }

  get length() { return this.#h ? this.#h.len() : this.#final.length; }

  get ready() { return this.#h ? this.#h.ready() : this.#final.ready; }

  get resyncs() { return this.#h ? this.#h.resyncs() : this.#final.resyncs; }

  get error() { return this.#error ?? (this.#h ? this.#h.error() : this.#final.error); }

  /** Calls fn(view) after each change; returns a function that stops it. */
  subscribe(fn) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Resolves once pred(rows) holds (checked now and after every change); rejects if the view stops. */
  waitFor(pred) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const err = this.error;
        if (err) { stop(); reject(err); return; }
        if (this.ready && pred(this.rows)) { stop(); resolve(this.rows); }
      };
      const stop = this.subscribe(check);
      check();
    });
  }

  /** Stops the view; its Go side is released once it has stopped. */
  close() {
    this.#forget?.();
    this.#closed ??= (async () => {
      const h = this.#h;
      if (!h) return;
      try {
        await h.close();
      } finally {
        this.#final = { length: h.len(), ready: h.ready(), resyncs: h.resyncs(), error: h.error() };
        this.#json = h.rows();
        this.#rows = null;
        this.#h = null;
        h.dispose();
      }
    })();
    return this.#closed;
  }
}

