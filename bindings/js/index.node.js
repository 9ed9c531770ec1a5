// kalam under Node: the package's "node" export. It is index.js plus what
// Node lacks for it: reading kalam.wasm from disk (Node's fetch cannot read
// file: URLs) and, on Node 20 and 21, a WebSocket. Node 22 and later have
// a global WebSocket and use it; before that the `ws` package (a dependency
// of this package) is installed as globalThis.WebSocket, only when missing.
import { readFile } from 'node:fs/promises';
import { _platform } from './index.js';

_platform.readFile = (url) => readFile(url);

if (typeof globalThis.WebSocket !== 'function') {
  const { WebSocket } = await import('ws');
  globalThis.WebSocket = WebSocket;
}

export * from './index.js';
