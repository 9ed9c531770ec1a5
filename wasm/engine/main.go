// Command engine is kalam's lifecycle engine (package fsm) built as a WASI
// reactor: a module that never runs on its own and only answers calls. The
// host owns sockets, HTTP and time; the module owns the lifecycle.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o kalam-engine.wasm ./wasm/engine
//
// (make wasm does this). The exports and encodings are internal/abi's and
// are described in docs/ABI.md; bindings/wazero is the Go host. Built for
// any other platform the command does nothing: only the wasip1 build has
// the exports.
package main

func main() {}
