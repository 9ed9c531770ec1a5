// A host for kalam's engine module on Node's node:wasi, written from
// docs/ABI.md alone. It replays a conformance script and writes every
// response the module gives, so that a test can compare them with the
// native engine's.
//
//   node host.mjs ENGINE.wasm SCRIPT OUT
//
// SCRIPT is a sequence of records; OUT gets one record per response:
//
//   'I' u32 n, n bytes   kalam_init with this config JSON      → 1 response
//   'S' u32 n, n bytes   kalam_step with this request          → 1 response
//   'B' u32 k, then k × (u32 n, n bytes)
//                        kalam_step_batch with these requests  → k responses
//   'V'                  kalam_view                            → 1 response
//
// u32 is little-endian. A response record is u32 n, then the n bytes.
import { readFileSync, writeFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const ABI_VERSION = 4;
const MIN_BUFFER = 4096;

function fail(msg) {
  process.stderr.write(`nodewasi host: ${msg}\n`);
  process.exit(1);
}

const [wasmPath, scriptPath, outPath] = process.argv.slice(2);
if (!outPath) fail('usage: node host.mjs ENGINE.wasm SCRIPT OUT');

// The module imports only wasi_snapshot_preview1 and uses no files,
// arguments or environment.
const wasi = new WASI({ version: 'preview1', args: [], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(wasmPath));
const instance = await WebAssembly.instantiate(module, {
  wasi_snapshot_preview1: wasi.wasiImport,
});
wasi.initialize(instance); // calls _initialize, once, first
const ex = instance.exports;

if (ex.kalam_abi_version() >>> 0 !== ABI_VERSION) fail('the module speaks another ABI version');

// The request buffer: asked for again whenever a request is larger.
let bufPtr = 0;
let bufSize = 0;

function writeRequest(req) {
  if (bufPtr === 0 || req.length > bufSize) {
    const size = Math.max(req.length, MIN_BUFFER);
    bufPtr = ex.kalam_buffer(size) >>> 0;
    if (bufPtr === 0) fail(`kalam_buffer(${size}) gave no buffer`);
    bufSize = size;
  }
  // A fresh view each time: memory may have grown (and the old buffer been
  // detached) during the last call.
  new Uint8Array(ex.memory.buffer, bufPtr, req.length).set(req);
  return [bufPtr, req.length];
}

// readResponse unpacks an i64 result (pointer high, length low) and copies
// the response out of guest memory before the next call.
function readResponse(packed) {
  const r = BigInt.asUintN(64, packed);
  const ptr = Number(r >> 32n);
  const len = Number(r & 0xffffffffn);
  if (len === 0) fail('empty response');
  const mem = new Uint8Array(ex.memory.buffer);
  if (ptr + len > mem.length) fail('response outside memory');
  return mem.slice(ptr, ptr + len);
}

function call(fn, req) {
  const [ptr, len] = writeRequest(req);
  return readResponse(fn(ptr, len));
}

// uvarint: unsigned LEB128.
function appendUvarint(out, n) {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

function readUvarint(b, off) {
  let n = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (off >= b.length) fail('truncated uvarint in a batch response');
    const c = b[off++];
    n += (c & 0x7f) * mul;
    if (c < 0x80) return [n, off];
    mul *= 0x80;
  }
  fail('uvarint too long');
}

// A batch request is the requests as `bytes` items back to back; the
// response is status 0 and one `bytes` item per request.
function stepBatch(reqs) {
  let size = 0;
  const prefixes = reqs.map((r) => {
    const p = [];
    appendUvarint(p, r.length);
    size += p.length + r.length;
    return p;
  });
  const batch = new Uint8Array(size);
  let off = 0;
  reqs.forEach((r, i) => {
    batch.set(prefixes[i], off);
    off += prefixes[i].length;
    batch.set(r, off);
    off += r.length;
  });
  const resp = call(ex.kalam_step_batch, batch);
  if (resp[0] !== 0) fail(`batch refused with status ${resp[0]}`);
  const items = [];
  let pos = 1;
  while (pos < resp.length) {
    let n;
    [n, pos] = readUvarint(resp, pos);
    if (pos + n > resp.length) fail('batch response item past its end');
    items.push(resp.subarray(pos, pos + n));
    pos += n;
  }
  if (items.length !== reqs.length) fail(`batch of ${reqs.length} answered ${items.length}`);
  return items;
}

const script = readFileSync(scriptPath);
const dv = new DataView(script.buffer, script.byteOffset, script.byteLength);
const out = [];
let outSize = 0;
function emit(resp) {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(resp.length);
  out.push(len, resp);
  outSize += 4 + resp.length;
}

let p = 0;
function bytes() {
  const n = dv.getUint32(p, true);
  p += 4;
  const b = script.subarray(p, p + n);
  p += n;
  return b;
}
while (p < script.length) {
  const kind = String.fromCharCode(script[p++]);
  switch (kind) {
    case 'I':
      emit(call(ex.kalam_init, bytes()));
      break;
    case 'S':
      emit(call(ex.kalam_step, bytes()));
      break;
    case 'B': {
      const k = dv.getUint32(p, true);
      p += 4;
      const reqs = [];
      for (let i = 0; i < k; i++) reqs.push(bytes());
      for (const item of stepBatch(reqs)) emit(item);
      break;
    }
    case 'V':
      emit(readResponse(ex.kalam_view()));
      break;
    default:
      fail(`unknown script record ${kind}`);
  }
}
writeFileSync(outPath, Buffer.concat(out, outSize));
