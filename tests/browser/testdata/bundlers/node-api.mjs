// Run by tests/browser/node_pkg_test.go under Node: the helpers a
// @kalamdb/client user looks for (login, refreshToken, queryOne, queryAll,
// subscriptions, unsubscribeAll, onConnect/onDisconnect with attempt) and
// exact 64-bit positions (_seq above 2^53 as strings, from as string or
// BigInt, a number refused). One JSON line per step on stdout; the Go test
// cuts the socket when told "cut".
import { createInterface } from 'node:readline';
import { createClient, isKalamError } from '@kalamgo/kalam';

const { KALAM_URL: url, KALAM_USER: user, KALAM_PASSWORD: password } = process.env;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const command = async () => (await input.next()).value;

const conns = [];
let wake = () => {};
const changed = () => new Promise((resolve) => { wake = resolve; });
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what}`);
    await Promise.race([changed(), new Promise((r) => setTimeout(r, Math.min(left, 100)))]);
  }
}

// snapshotOf reads a subscription until its snapshot is complete and
// returns the rows it brought.
async function snapshotOf(sub) {
  const rows = [];
  for (;;) {
    const batch = await sub.nextBatch();
    if (batch === null) throw new Error('ended during its snapshot');
    for (const ev of batch) {
      if (ev.kind === 'snapshot') rows.push(...ev.rows);
      if (ev.kind === 'snapshot' && ev.last) return rows;
      if (ev.kind === 'subscribed' && ev.last) return rows;
    }
  }
}

try {
  const client = await createClient({
    url, namespace: 'app', auth: { user, password }, backoffMinMs: 20, backoffMaxMs: 200,
    onConnect: (ev) => { conns.push({ connected: true, attempt: ev.attempt }); wake(); },
    onDisconnect: (ev) => { conns.push({ connected: false, attempt: ev.attempt, code: ev.code, reason: ev.reason, recoverable: ev.recoverable }); wake(); },
  });
  await client.login();
  const afterLogin = client.state;
  await client.refreshToken();

  await client.query("INSERT INTO orders (id, status) VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  const one = await client.queryOne('SELECT id, status FROM orders WHERE id = $1', [2]);
  const none = await client.queryOne('SELECT id FROM orders WHERE id = $1', [99]);
  const all = (await client.queryAll('SELECT id FROM orders ORDER BY id')).map((r) => r.id);
  say({ step: 'helpers', afterLogin, one, none, all });

  const sub1 = client.live('SELECT * FROM orders');
  const snap = await snapshotOf(sub1);
  const seqs = Object.fromEntries(snap.map((r) => [r.id, r._seq]));
  const position = sub1.position();
  const sub2 = client.live('SELECT * FROM orders', { from: seqs['1'] });
  const sub3 = client.live('SELECT * FROM orders', { from: BigInt(seqs['2']) });
  let numberRefused = 'accepted';
  try {
    client.live('SELECT * FROM orders', { from: Number(seqs['1']) });
  } catch (err) {
    numberRefused = isKalamError(err) ? err.code : String(err);
  }
  const after1 = (await snapshotOf(sub2)).map((r) => r.id);
  const after2 = (await snapshotOf(sub3)).map((r) => r.id);
  const view = await client.liveRows('SELECT * FROM orders');
  await view.waitFor((rows) => rows.length === 3);
  say({
    step: 'positions', seqs, position, after1, after2, numberRefused,
    types: snap.map((r) => typeof r._seq), subscriptions: client.subscriptions(),
  });

  if (await command() !== 'cut') throw new Error('expected cut');
  await until(() => conns.length >= 3 && conns.at(-1).connected, 15000, 'a reconnect');
  say({ step: 'reconnected', conns });

  const reading = (async () => { let n = 0; for await (const ev of sub1) n++; return `ended after ${n}`; })();
  await client.unsubscribeAll();
  say({ step: 'unsubscribed', left: client.subscriptions(), sub1: await reading, viewError: view.error?.code ?? null });
  await client.close();
} catch (err) {
  say({ step: 'error', error: (isKalamError(err) ? err.code + ': ' : '') + (err.stack || String(err)) });
  process.exitCode = 1;
}
