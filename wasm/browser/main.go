//go:build js && wasm

// Command browser is the kalam client compiled for the browser
// (GOOS=js GOARCH=wasm). It exposes the client to JavaScript as
// globalThis.__kalamgo; the ESM package in bindings/js wraps that object in
// a typed API (Client, Subscription, LiveRows) and is the supported way to
// use it.
//
// Every call that may wait (connect, query, live, drain, close …) returns a
// Promise and runs on its own goroutine, so the JavaScript event loop is
// never blocked: fetch and WebSocket callbacks keep flowing. Live events
// cross the boundary in batches, as one JSON string per batch, because one
// JS↔Go call costs about as much as encoding a small event.
package main

import (
	"syscall/js"

	"github.com/kalamgo/kalam/fsm"
)

// version is the API version of the JS object; bindings/js checks it.
const version = 2

func main() {
	api := js.Global().Get("Object").New()
	api.Set("version", version)
	api.Set("create", js.FuncOf(create))
	api.Set("lifecycleDiagram", js.FuncOf(func(js.Value, []js.Value) any { return fsm.Mermaid() }))
	api.Set("states", js.FuncOf(func(js.Value, []js.Value) any {
		names := make([]any, 0, 8)
		for _, s := range fsm.States() {
			names = append(names, s.String())
		}
		return names
	}))
	// liveHandles counts subscription, view and client objects not yet
	// disposed (a diagnostic; the browser tests check closing frees them).
	api.Set("liveHandles", js.FuncOf(func(js.Value, []js.Value) any { return liveMethods.Load() }))
	js.Global().Set("__kalamgo", api)
	if ready := js.Global().Get("__kalamgoReady"); ready.Type() == js.TypeFunction {
		ready.Invoke(api)
	}
	select {} // the exported functions run on goroutines the runtime starts
}
