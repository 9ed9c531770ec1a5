// The app each bundler builds (tests/browser/bundlers_test.go): it imports
// the package by name, as an application does, with no bundler
// configuration for the WebAssembly module.
import { createClient, isKalamError } from '@kalamgo/kalam';

// check logs in, writes and reads a row, and follows it live until the
// snapshot is complete; it returns what it saw.
window.check = async (url, user, password, id) => {
  let client;
  try {
    client = await createClient({ url, namespace: 'app', auth: { user, password } });
    await client.query('INSERT INTO orders (id, status) VALUES ($1, $2)', [id, 'bundled']);
    const { rows } = await client.query('SELECT id, status FROM orders WHERE id = $1', [id]);
    const kinds = [];
    let seen = [];
    for await (const ev of client.live(`SELECT * FROM orders WHERE id = ${Number(id)}`)) {
      kinds.push(ev.kind);
      if (ev.kind === 'snapshot') seen = seen.concat(ev.rows.map((r) => r.id));
      if (ev.kind === 'snapshot' && ev.last) break;
    }
    return { rows, kinds, seen, state: client.state };
  } catch (err) {
    return { error: (isKalamError(err) ? err.code + ': ' : '') + String(err.message || err) };
  } finally {
    client?.close();
  }
};
window.harnessReady = true;
