package wazero

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
)

// ModuleName is the name of the guest module in wazero: each engine is an
// instance named ModuleName, a dash and a number unique in the process
// (kalam_engine-1, kalam_engine-2 …), which is how it shows in wazero's
// traps and stack traces and how Runtime.Module finds it.
const ModuleName = "kalam_engine"

// instances numbers the engine instances of the process, so that their
// names never collide on a runtime shared by several Hosts.
var instances atomic.Uint64

// EnvWasm names the environment variable read when Config gives neither
// Wasm nor Path: the path of the guest module built by make wasm.
const EnvWasm = "KALAM_ENGINE_WASM"

// Config says where the guest module comes from and how instances run.
type Config struct {
	// Wasm is the guest module (kalam-engine.wasm). When nil, Path is read.
	Wasm []byte
	// Path is the guest module's file; when empty, the environment variable
	// KALAM_ENGINE_WASM is used.
	Path string
	// Stdout and Stderr receive what the guest writes (the Go runtime's
	// crash reports). Nil discards it.
	Stdout, Stderr io.Writer
	// StepTimeout bounds each call into the guest. It takes effect only on
	// a runtime configured with WithCloseOnContextDone(true); a call that
	// runs over closes the instance and is reported as CodeTrap. Zero means
	// no bound (the engine never blocks, so a call cannot wait on anything).
	StepTimeout time.Duration
	// NoFrameIndex sends text frames without the index the host scans for
	// them (docs/ABI.md, "Frame index"), so the guest scans each frame
	// itself: slower, for comparing the two paths.
	NoFrameIndex bool
}

// Host holds the compiled guest module. Each engine is its own module
// instance, so engines share nothing but the compiled code. A Host is safe
// for concurrent use; each Engine is owned by one goroutine.
//
// Like the host modules of wazero's imports packages, a Host is an
// api.Closer: Close releases what Instantiate made for it and nothing that
// other users of the runtime may hold.
type Host struct {
	r        wazero.Runtime
	compiled wazero.CompiledModule
	cfg      Config
	closed   atomic.Bool
}

var _ api.Closer = (*Host)(nil)

// Instantiate compiles the guest module on r and makes sure r provides
// wasi_snapshot_preview1, the only host module the guest imports
// (instantiating it when r has none yet).
//
// # Compile cache
//
// Compiling the guest is the expensive step: seconds without a cache.
// wazero caches compiled code per runtime configuration, and Instantiate
// only asks r to compile, so the cache r was built with decides the cost:
//
//   - no cache: every Instantiate on a new runtime compiles from scratch;
//     a second Instantiate of the same bytes on the same runtime reuses r's
//     own compiled copy;
//   - wazero.NewCompilationCache(), shared by several runtimes: compiled
//     once per process;
//   - wazero.NewCompilationCacheWithDir(dir): compiled once per machine and
//     wazero version; later processes read the native code from dir (about
//     a tenth of a second).
//
// Several Hosts may share one runtime.
func Instantiate(ctx context.Context, r wazero.Runtime, cfg Config) (*Host, error) {
	bin := cfg.Wasm
	if bin == nil {
		path := cfg.Path
		if path == "" {
			path = os.Getenv(EnvWasm)
		}
		if path == "" {
			return nil, errors.New("kalam wazero host: no guest module: set Config.Wasm or Config.Path, or " + EnvWasm + " (make wasm builds it)")
		}
		var err error
		if bin, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	h := &Host{r: r, cfg: cfg}
	if err := ensureWASI(ctx, r); err != nil {
		return nil, err
	}
	compiled, err := r.CompileModule(ctx, bin)
	if err != nil {
		return nil, err
	}
	h.compiled = compiled
	exports := compiled.ExportedFunctions()
	for _, name := range []string{abi.ExportInitialize, abi.ExportVersion, abi.ExportBuffer, abi.ExportInit, abi.ExportStep, abi.ExportStepBatch, abi.ExportView} {
		if _, ok := exports[name]; !ok {
			h.Close(ctx) // the compiled module only: WASI stays for others
			return nil, abi.Errorf(abi.CodeVersion, "the module does not export "+name+": not a kalam engine")
		}
	}
	return h, nil
}

// ensureWASI instantiates wasi_snapshot_preview1 on r unless r has it. It
// stays there until r closes: other modules on r (other Hosts, your own
// guests) may import it from the moment it exists, so no Host may close it.
func ensureWASI(ctx context.Context, r wazero.Runtime) error {
	if r.Module(wasi_snapshot_preview1.ModuleName) != nil {
		return nil
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		if r.Module(wasi_snapshot_preview1.ModuleName) != nil {
			return nil // another goroutine instantiated it first
		}
		return err
	}
	return nil
}

// Close releases the compiled module: no new engine can start. Engines
// already running keep running until their own Close, and WASI stays on the
// runtime for its other users (it goes when the runtime closes).
func (h *Host) Close(ctx context.Context) error {
	if h.compiled == nil || h.closed.Swap(true) {
		return nil
	}
	return h.compiled.Close(ctx)
}

// NewEngine starts a new instance of the guest and creates its engine. The
// engine lives until Close; ctx is used for every call into it, so it must
// outlive the engine (on a runtime made WithCloseOnContextDone, cancelling
// it ends the engine).
func (h *Host) NewEngine(ctx context.Context, cfg fsm.Config) (*Engine, error) {
	if h.closed.Load() {
		return nil, abi.Errorf(abi.CodeClosed, "the Host is closed")
	}
	mc := wazero.NewModuleConfig().
		WithName(ModuleName + "-" + strconv.FormatUint(instances.Add(1), 10)).
		WithStartFunctions(abi.ExportInitialize)
	if h.cfg.Stdout != nil {
		mc = mc.WithStdout(h.cfg.Stdout)
	}
	if h.cfg.Stderr != nil {
		mc = mc.WithStderr(h.cfg.Stderr)
	}
	mod, err := h.r.InstantiateModule(ctx, h.compiled, mc)
	if err != nil {
		return nil, abi.Errorf(abi.CodeTrap, "instantiate: "+err.Error())
	}
	e := &Engine{
		ctx:     ctx,
		timeout: h.cfg.StepTimeout,
		mod:     mod,
		mem:     mod.Memory(),
		version: mod.ExportedFunction(abi.ExportVersion),
		buffer:  mod.ExportedFunction(abi.ExportBuffer),
		initFn:  mod.ExportedFunction(abi.ExportInit),
		stepFn:  mod.ExportedFunction(abi.ExportStep),
		batchFn: mod.ExportedFunction(abi.ExportStepBatch),
		viewFn:  mod.ExportedFunction(abi.ExportView),
		noIndex: h.cfg.NoFrameIndex,
	}
	if e.mem == nil || e.version == nil || e.buffer == nil || e.initFn == nil || e.stepFn == nil || e.batchFn == nil || e.viewFn == nil {
		e.release()
		return nil, abi.Errorf(abi.CodeVersion, "the instance lacks a kalam export")
	}
	if err := e.invoke(e.version); err != nil {
		e.release()
		return nil, err
	}
	if v := uint32(e.stack[0]); v != abi.Version {
		e.release()
		return nil, abi.Errorf(abi.CodeVersion, "the module speaks another ABI version")
	}
	if err := e.Reset(cfg); err != nil {
		e.release()
		return nil, err
	}
	return e, nil
}

// Factory returns a constructor for kalam.Config.Engine: every client gets
// its own instance, released when its engine reaches StateClosed.
func (h *Host) Factory(ctx context.Context) func(fsm.Config) (fsm.Stepper, error) {
	return func(cfg fsm.Config) (fsm.Stepper, error) {
		e, err := h.NewEngine(ctx, cfg)
		if err != nil {
			return nil, err
		}
		e.releaseOnClosed = true
		return e, nil
	}
}

// NewClient is kalam.New with the engine running in this host: the client
// API, the executors (sockets, HTTP, timers) and the events are package
// kalam's; only the engine behind them is the guest.
func (h *Host) NewClient(ctx context.Context, cfg kalam.Config) (*kalam.Client, error) {
	cfg.Engine = h.Factory(ctx)
	return kalam.New(cfg)
}

// cloneResponse copies a response out of guest memory: the decoded effects
// alias it and outlive the next call.
func cloneResponse(b []byte) []byte { return bytes.Clone(b) }
