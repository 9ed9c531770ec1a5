// Run by tests/browser/node_pkg_test.go under Node: the packed package,
// imported by name (its "node" export), against kalamtest through the
// fault proxy. The Go test drives it over stdin and reads one JSON line per
// step from stdout.
import { createInterface } from 'node:readline';
import { createClient, isKalamError } from '@kalamgo/kalam';

const { KALAM_URL: url, KALAM_USER: user, KALAM_PASSWORD: password } = process.env;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const command = async () => (await input.next()).value;

const states = [];
const events = [];
let wake = () => {};
const changed = () => new Promise((resolve) => { wake = resolve; });
const idsOf = (kinds) => events.filter((e) => kinds.includes(e.kind)).flatMap((e) => e.rows.map((r) => r.id));

async function until(pred, ms) {
  const end = Date.now() + ms;
  while (!pred()) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(`timed out; states ${states.join(' ')}; ids ${idsOf(['snapshot', 'insert'])}`);
    await Promise.race([changed(), new Promise((r) => setTimeout(r, Math.min(left, 100)))]);
  }
}

try {
  const client = await createClient({
    url, namespace: 'app', auth: { user, password }, backoffMinMs: 20, backoffMaxMs: 200,
    onStateChange: (t) => { states.push(t.to); wake(); },
  });
  await client.query('INSERT INTO orders (id, status) VALUES ($1, $2)', [1, 'node']);
  const { rows } = await client.query('SELECT id, status FROM orders ORDER BY id');
  const fromWs = globalThis.WebSocket === (await import('ws')).WebSocket;
  say({ step: 'query', rows, fromWs, node: process.versions.node });

  const sub = client.live('SELECT * FROM orders');
  let ended = 'no';
  const reading = (async () => { for await (const ev of sub) { events.push(ev); wake(); } ended = 'done'; })()
    .catch((err) => { ended = 'threw ' + (err.code || err); });
  await until(() => events.some((e) => e.kind === 'snapshot' && e.last), 10000);
  say({ step: 'live', ids: idsOf(['snapshot']), state: client.state });

  if (await command() !== 'resume') throw new Error('expected resume');
  await until(() => client.state === 'Live' && idsOf(['snapshot', 'insert']).length >= 6, 15000);
  say({ step: 'resumed', ids: idsOf(['snapshot', 'insert']), resumed: events.some((e) => e.kind === 'resumed'), states });

  const timeoutMs = Number(await command());
  const t0 = Date.now();
  const outcome = await client.drain({ timeoutMs });
  const ms = Date.now() - t0;
  await reading;
  say({ step: 'drain', outcome, ms, state: client.state, ended });
} catch (err) {
  say({ step: 'error', error: (isKalamError(err) ? err.code + ': ' : '') + (err.stack || String(err)) });
  process.exitCode = 1;
}
