// Package jsnet is the browser build's network: the platform's WebSocket and
// fetch, reached through syscall/js.
//
// The browser build does not link net/http or github.com/coder/websocket:
// importing net/http alone adds about 600 KB (brotli) to the .wasm, and
// coder/websocket's browser adapter imports it for its Dial signature.
// Everything here is small on purpose: one WebSocket type with the four
// operations the client uses (read, write, close, close at once), and one
// fetch call that reads a bounded body. RATIONALE.md has the measurements.
//
// The package is empty outside GOOS=js.
package jsnet
