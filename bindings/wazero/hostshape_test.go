package wazero

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
)

// stepsToAuthed gives e credentials and checks the answer came from a
// working guest.
func stepsToAuthed(t *testing.T, e *Engine) {
	t.Helper()
	if err := e.Reset(fsm.Config{Namespace: "app"}); err != nil {
		t.Fatalf("reset: %v", err)
	}
	effs, err := e.Step(0, fsm.SetCredentials{Credentials: auth.Credentials{AccessToken: auth.NewSecret("tok")}})
	if err != nil || e.State() != fsm.StateAuthed || len(effs) == 0 {
		t.Fatalf("step: %v %v %v", effs, err, e.State())
	}
}

// TestHostsShareARuntime: two Hosts on one runtime; closing the one that
// instantiated WASI leaves WASI, the other Host and every running engine
// working.
func TestHostsShareARuntime(t *testing.T) {
	needGuest(t)
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(testCache()))
	defer r.Close(ctx)
	if r.Module(wasi_snapshot_preview1.ModuleName) != nil {
		t.Fatal("a new runtime has WASI")
	}
	var first api.Closer
	h1, err := Instantiate(ctx, r, Config{Wasm: guestWasm})
	if err != nil {
		t.Fatal(err)
	}
	first = h1 // a Host is an api.Closer, like wazero's host modules
	if r.Module(wasi_snapshot_preview1.ModuleName) == nil {
		t.Fatal("Instantiate did not provide WASI")
	}
	h2, err := Instantiate(ctx, r, Config{Wasm: guestWasm})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close(ctx)
	e1, err := h1.NewEngine(ctx, fsm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e1.Close(ctx)
	e2, err := h2.NewEngine(ctx, fsm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close(ctx)
	if !strings.HasPrefix(e1.mod.Name(), ModuleName+"-") || e1.mod.Name() == e2.mod.Name() {
		t.Fatalf("instance names %q and %q", e1.mod.Name(), e2.mod.Name())
	}
	if r.Module(e2.mod.Name()) == nil {
		t.Fatalf("the runtime does not know %q", e2.mod.Name())
	}

	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Module(wasi_snapshot_preview1.ModuleName) == nil {
		t.Fatal("closing one Host closed WASI")
	}
	stepsToAuthed(t, e1) // the closed Host's running engine
	stepsToAuthed(t, e2)
	e3, err := h2.NewEngine(ctx, fsm.Config{}) // a new instance needs WASI
	if err != nil {
		t.Fatalf("the other Host cannot start an engine: %v", err)
	}
	defer e3.Close(ctx)
	stepsToAuthed(t, e3)
	if _, err := h1.NewEngine(ctx, fsm.Config{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("a closed Host starts an engine: %v", err)
	}
}

// TestHostLeavesForeignWASI: WASI instantiated by someone else is used, not
// taken over: after the Host closes, the owner's WASI is still there and
// still closes through the owner's closer.
func TestHostLeavesForeignWASI(t *testing.T) {
	needGuest(t)
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(testCache()))
	defer r.Close(ctx)
	wasi, err := wasi_snapshot_preview1.Instantiate(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Instantiate(ctx, r, Config{Wasm: guestWasm})
	if err != nil {
		t.Fatal(err)
	}
	e, err := h.NewEngine(ctx, fsm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	stepsToAuthed(t, e)
	if err := errors.Join(e.Close(ctx), h.Close(ctx)); err != nil {
		t.Fatal(err)
	}
	if r.Module(wasi_snapshot_preview1.ModuleName) == nil {
		t.Fatal("the Host closed WASI it did not instantiate")
	}
	if err := wasi.Close(ctx); err != nil {
		t.Fatalf("the owner cannot close its WASI: %v", err)
	}
}
