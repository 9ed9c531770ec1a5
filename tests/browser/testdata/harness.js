// Test harness for the browser build: the Go tests in tests/browser load
// this page in headless Chromium and drive window.T through the DevTools
// protocol. Everything the tests assert on is recorded here.
import * as kalam from '/kalam/index.js';

const T = {
  kalam,
  client: null,
  states: [],          // every state entered, in order
  transitions: [],     // {from, to, trigger}
  authCalls: [],       // reasons the auth provider was asked for
  connections: [],     // {connected, code}
  errors: [],          // "CODE: message" from onError, "CODE (final): message" when not recoverable
  events: [],          // live events, in order
  subEnded: false,
  subError: null,      // error code the subscription ended with
  sub: null,
  counted: 0,          // insert rows seen (benchmark)
  countWaiters: [],

  // start creates a client for user/password; the auth provider is a
  // JavaScript function that logs in with fetch, so every credential the
  // client holds went through a Promise.
  async start({ user, password, ...rest }) {
    T.client = await kalam.createClient({
      url: '/',
      namespace: 'app',
      backoffMinMs: 20,
      backoffMaxMs: 200,
      pingIntervalMs: 500,
      pongTimeoutMs: 1000,
      seed: 1,
      auth: async (req) => {
        T.authCalls.push(req.reason);
        const r = await fetch('/v1/api/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user, password }),
        });
        if (!r.ok) throw new Error(`login answered ${r.status}`);
        return r.json();
      },
      onStateChange: (t) => { T.states.push(t.to); T.transitions.push(t); },
      onConnection: (ev) => T.connections.push({ connected: ev.connected, code: ev.code }),
      onError: (err, recoverable) => T.errors.push(`${err.code}${recoverable ? "" : " (final)"}: ${err.message}`),
      ...rest,
    });
    return T.client.state;
  },

  // live starts the callback form and records every event.
  async live(sql, options = {}) {
    T.sub = T.client.live(sql, options, (ev) => {
      T.events.push(ev);
      if (ev.kind === 'insert' || ev.kind === 'snapshot') { // snapshot: initial or replayed after a pause
        T.counted += ev.rows.length;
        T.countWaiters = T.countWaiters.filter((w) => (T.counted >= w.n ? (w.resolve(), false) : true));
      }
    });
    T.sub.done.then(() => { T.subEnded = true; }, (err) => { T.subEnded = true; T.subError = err.code || String(err); });
    await T.sub.ready;
    return T.sub.id;
  },

  // iterate consumes a subscription with for await until n events arrived.
  async iterate(sql, n) {
    const out = [];
    for await (const ev of T.client.live(sql)) {
      out.push(ev.kind);
      if (out.length >= n) break; // return() closes the subscription
    }
    return out;
  },

  // A consumer that reads only when told: slowStart subscribes without
  // reading, slowRead(n) reads batches until n rows (insert or snapshot)
  // were seen and returns their ids in the order delivered.
  slow: null,
  async slowStart(sql) {
    T.slow = { sub: T.client.live(sql, { noSnapshot: true }), ids: [] };
    await T.slow.sub.ready;
    return T.slow.sub.id;
  },
  async slowRead(n) {
    while (T.slow.ids.length < n) {
      const batch = await T.slow.sub.nextBatch();
      if (batch === null) break;
      for (const ev of batch) {
        if (ev.kind === 'insert' || ev.kind === 'snapshot') for (const r of ev.rows) T.slow.ids.push(String(r.id));
      }
    }
    return T.slow.ids;
  },

  waitCount(n) {
    if (T.counted >= n) return Promise.resolve();
    return new Promise((resolve) => T.countWaiters.push({ n, resolve }));
  },

  // ids lists the id cells of the rows events brought, by kind.
  ids(kinds) {
    const out = [];
    for (const ev of T.events) {
      if (!kinds.includes(ev.kind)) continue;
      for (const r of ev.rows || ev.old || []) out.push(String(r.id));
    }
    return out;
  },

  // seqs lists the _seq of every row delivered (decimal strings).
  seqs() {
    const out = [];
    for (const ev of T.events) {
      if (ev.kind !== 'insert' && ev.kind !== 'snapshot' && ev.kind !== 'update') continue;
      for (const r of ev.rows) out.push(r._seq);
    }
    return out;
  },

  async query(sql, params) {
    const res = await T.client.query(sql, params);
    return res.rows;
  },

  async errorCode(fn) {
    try { await fn(); return 'none'; } catch (err) { return kalam.isKalamError(err) ? err.code : `not a KalamError: ${err}`; }
  },
};

window.T = T;
window.harnessReady = true;
