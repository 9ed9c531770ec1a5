// Package wazero runs kalam's lifecycle engine compiled to WebAssembly
// (the wasip1 reactor built from wasm/engine by make wasm) inside wazero,
// and drives it with the native client's executors. Import it under a name
// of your choice next to wazero itself, e.g.
//
//	wazerohost "github.com/kalamgo/kalam/bindings/wazero"
//
// It is shaped like wazero's own host modules (imports/wasi_snapshot_preview1):
// the package is named after its directory, ModuleName names the guest's
// instances, Instantiate(ctx, runtime, config) compiles the guest on a
// runtime you own and returns a Host, which is an api.Closer. Closing a Host
// never closes what other users of the runtime rely on: WASI, which
// Instantiate provides when the runtime lacks it, stays until the runtime
// closes. NewEngine starts an instance, and every read of guest memory is
// bounds-checked and turns into an *Error with a Code instead of a panic.
//
// # The same client
//
// An Engine is an fsm.Stepper, the interface package kalam drives. Factory
// returns a constructor for kalam.Config.Engine, and NewClient wraps
// kalam.New with it, so a client whose engine runs in wazero has exactly the
// API, executors (sockets, HTTP, timers), events and errors of the native
// one: only the engine moved into the guest. Engine errors cross the ABI
// with their types, so errors.Is(err, kalam.ErrClosed) and errors.As into
// *fsm.TransitionError work as they do natively.
//
// # The guest module
//
// The .wasm is not committed: build it with make wasm (or the go build line
// in wasm/engine's documentation) and pass it as Config.Path, or set
// KALAM_ENGINE_WASM, or embed it in your program and pass the bytes:
//
//	//go:embed kalam-engine.wasm
//	var engineWasm []byte
//
//	host, err := wazerohost.Instantiate(ctx, r, wazerohost.Config{Wasm: engineWasm})
//
// Give the runtime a compilation cache so that a process compiles the
// module once and later processes not at all:
//
//	cache, _ := wazero.NewCompilationCacheWithDir(dir)
//	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache))
//
// Each engine is a separate instance of the compiled module (a few MiB of
// linear memory); instances share only the compiled code.
//
// # Cost
//
// make bench measures it (BenchmarkCompile, BenchmarkInstantiate,
// BenchmarkStepLiveChange, BenchmarkStepOverhead). Compiling the module
// takes seconds cold and about a tenth of a second from a directory cache;
// an instance starts in about 10 ms and holds about 8 MB (5 MiB of linear
// memory plus host structures). A Step costs a fixed host→guest round trip
// of 2–3 µs plus the engine itself running as Go compiled to wasm, which
// runs the same code 12–16 times slower than native. The host scans each
// text frame natively and hands the guest the frame's unchanged bytes with
// the offsets it found (docs/ABI.md, "Frame index"; Config.NoFrameIndex
// turns it off), which halves the guest's work per live change: about
// 22 µs a live change against 1.5 µs natively. Use the native engine where
// the platform allows it; use this host where the engine must be sandboxed
// or shipped as one artifact.
//
// The contract between host and guest (exports, encodings, error codes) is
// documented in docs/ABI.md for hosts in other languages.
package wazero
