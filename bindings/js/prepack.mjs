// prepack: npm runs this before `npm pack` and `npm publish`. It builds
// kalam.wasm from this checkout and copies the Go toolchain's wasm_exec.js
// next to index.js, then checks both; if either step fails, npm stops and
// no tarball without the WebAssembly module is made.
//
// KALAM_PREBUILT_WASM=path (with KALAM_PREBUILT_WASM_EXEC=path) takes a
// module already built by scripts/build-browser-wasm.sh instead of building
// again (the tests do, to build once per run).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wasmOut = join(here, 'kalam.wasm');
const execOut = join(here, 'wasm_exec.js');

function refuse(msg) {
  console.error(`prepack: ${msg}\nprepack: refusing to pack @kalamgo/kalam without kalam.wasm and wasm_exec.js`);
  process.exit(1);
}

function goRoot(go) {
  return execFileSync(go, ['env', 'GOROOT'], { encoding: 'utf8' }).trim();
}

if (process.env.KALAM_PREBUILT_WASM) {
  const exec = process.env.KALAM_PREBUILT_WASM_EXEC;
  if (!exec) refuse('KALAM_PREBUILT_WASM needs KALAM_PREBUILT_WASM_EXEC too');
  copyFileSync(process.env.KALAM_PREBUILT_WASM, wasmOut);
  copyFileSync(exec, execOut);
} else {
  const root = resolve(here, '..', '..');
  const script = join(root, 'scripts', 'build-browser-wasm.sh');
  if (!existsSync(script)) refuse(`not inside the kalam repository (${script} is missing), so kalam.wasm cannot be built`);
  const go = process.env.GO || 'go';
  try {
    execFileSync('sh', [script, wasmOut], { cwd: root, stdio: 'inherit', env: { ...process.env, GO: go } });
    copyFileSync(join(goRoot(go), 'lib', 'wasm', 'wasm_exec.js'), execOut);
  } catch (err) {
    refuse(`building kalam.wasm failed (is Go installed? ${err.message})`);
  }
}

const wasm = readFileSync(wasmOut);
if (wasm.length < 1024 || wasm.readUInt32BE(0) !== 0x0061736d) refuse('kalam.wasm is not a WebAssembly module');
if (!/globalThis\.Go\s*=/.test(readFileSync(execOut, 'utf8'))) refuse('wasm_exec.js does not define globalThis.Go');
console.error(`prepack: kalam.wasm ${wasm.length} B, wasm_exec.js ready`);
