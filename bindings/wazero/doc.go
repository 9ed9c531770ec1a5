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
// Each engine is a separate instance of the compiled module (about 4 MiB of
// linear memory); instances share only the compiled code.
//
// # Batches
//
// Engine.StepBatch steps inputs that are ready together — a burst of frames
// read from the socket — in one call into the guest (docs/ABI.md, "Batched
// steps") and hands each input exactly what Step would have returned for
// it. The fixed cost of entering the guest is then paid once per burst (on
// live changes that saves little: see Cost). kalam.Client steps its engine one input at a time, so a client built with
// Factory does not batch (yet); StepBatch is for drivers of their own.
//
// # Cost
//
// make bench measures it (BenchmarkCompile, BenchmarkInstantiate,
// BenchmarkStepLiveChange, BenchmarkStepOverhead, the paired
// BenchmarkStepLiveChangePaired and BenchmarkBatchPaired, BenchmarkGuestSize,
// BenchmarkClientEvents). Measured 2026-12-08 on a shared two-core machine
// (figures vary by ±30 % between runs there):
//
//   - the guest module is 4.75 MB raw (make wasm);
//   - compiling it takes seconds cold and about a tenth of a second from a
//     directory cache;
//   - an instance starts in about 10 ms and holds 5.8 MB (5.5 MiB): 3.9 MiB
//     of linear memory plus 1.7 MB of host structures;
//   - a live change costs 6.7 µs through Step against 0.70 µs natively
//     (9.3×, thread CPU time, BenchmarkStepLiveChangePaired); inside a
//     100-frame StepBatch 6.9 µs a frame (10.5× the native engine on the
//     same burst): on live changes a batch saves nothing measurable yet;
//   - a kalam client whose engine runs here delivers 0.82 of the native
//     client's live events per second on the same kalamtest stream (0.63
//     to 0.88 over three runs).
//
// Go compiled to wasm runs the engine's code 6–20 times slower than native,
// and an allocation with pointers costs about a microsecond in the guest.
// The host scans each text frame natively and hands the guest the frame's
// unchanged bytes with the offsets it found (docs/ABI.md, "Frame index";
// Config.NoFrameIndex turns it off). Use the native engine where the platform allows it; use this
// host where the engine must be sandboxed or shipped as one artifact.
//
// The contract between host and guest (exports, encodings, error codes) is
// documented in docs/ABI.md for hosts in other languages.
package wazero
