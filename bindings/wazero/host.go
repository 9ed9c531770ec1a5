package wazerohost

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
)

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
type Host struct {
	r        wazero.Runtime
	compiled wazero.CompiledModule
	cfg      Config
	wasi     api.Closer // set when Instantiate instantiated WASI itself
}

// Instantiate compiles the guest module on r and makes sure r provides
// wasi_snapshot_preview1, the only host module the guest imports. Give r a
// compilation cache (wazero.NewCompilationCacheWithDir) so that the next
// process skips the compile.
func Instantiate(ctx context.Context, r wazero.Runtime, cfg Config) (*Host, error) {
	bin := cfg.Wasm
	if bin == nil {
		path := cfg.Path
		if path == "" {
			path = os.Getenv(EnvWasm)
		}
		if path == "" {
			return nil, errors.New("wazerohost: no guest module: set Config.Wasm or Config.Path, or " + EnvWasm + " (make wasm builds it)")
		}
		var err error
		if bin, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	h := &Host{r: r, cfg: cfg}
	if r.Module(wasi_snapshot_preview1.ModuleName) == nil {
		w, err := wasi_snapshot_preview1.Instantiate(ctx, r)
		if err != nil {
			return nil, err
		}
		h.wasi = w
	}
	compiled, err := r.CompileModule(ctx, bin)
	if err != nil {
		h.Close(ctx)
		return nil, err
	}
	h.compiled = compiled
	exports := compiled.ExportedFunctions()
	for _, name := range []string{abi.ExportInitialize, abi.ExportVersion, abi.ExportBuffer, abi.ExportInit, abi.ExportStep, abi.ExportView} {
		if _, ok := exports[name]; !ok {
			h.Close(ctx)
			return nil, abi.Errorf(abi.CodeVersion, "the module does not export "+name+": not a kalam engine")
		}
	}
	return h, nil
}

// Close releases the compiled module, and WASI when this Host instantiated
// it (then other users of WASI on the runtime lose it too: close the
// runtime instead when several Hosts share one). Close the engines first.
func (h *Host) Close(ctx context.Context) error {
	var err error
	if h.compiled != nil {
		err = h.compiled.Close(ctx)
	}
	if h.wasi != nil {
		err = errors.Join(err, h.wasi.Close(ctx))
	}
	return err
}

// NewEngine starts a new instance of the guest and creates its engine. The
// engine lives until Close; ctx is used for every call into it, so it must
// outlive the engine (on a runtime made WithCloseOnContextDone, cancelling
// it ends the engine).
func (h *Host) NewEngine(ctx context.Context, cfg fsm.Config) (*Engine, error) {
	mc := wazero.NewModuleConfig().
		WithName(""). // anonymous: any number of instances side by side
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
		viewFn:  mod.ExportedFunction(abi.ExportView),
		noIndex: h.cfg.NoFrameIndex,
	}
	if e.mem == nil || e.version == nil || e.buffer == nil || e.initFn == nil || e.stepFn == nil || e.viewFn == nil {
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
