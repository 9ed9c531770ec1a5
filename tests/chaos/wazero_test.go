package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kalamgo/kalam"
	wazerohost "github.com/kalamgo/kalam/bindings/wazero"
	"github.com/tetratelabs/wazero"
)

// The wazero driver runs the core scenarios with the lifecycle engine
// compiled to wasip1 and hosted by bindings/wazero: same client, same
// executors, same assertions; only the engine moved into the guest.
func init() {
	drivers = append(drivers, Driver{Name: "wazero", CoreOnly: true, Configure: func(tb testing.TB, cfg *kalam.Config) {
		h := wazeroHost(tb)
		cfg.Engine = h.Factory(context.Background())
	}})
}

var shared struct {
	once sync.Once
	dir  string
	r    wazero.Runtime
	h    *wazerohost.Host
	err  error
}

// wazeroHost builds the guest module once per run, with the go tool
// running the tests, and instantiates it on a shared runtime.
func wazeroHost(tb testing.TB) *wazerohost.Host {
	tb.Helper()
	shared.once.Do(func() {
		ctx := context.Background()
		shared.dir, shared.err = os.MkdirTemp("", "kalam-chaos-wasm-")
		if shared.err != nil {
			return
		}
		out := filepath.Join(shared.dir, "kalam-engine.wasm")
		goCmd, _ := goToolchain()
		cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", out, "github.com/kalamgo/kalam/wasm/engine")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			shared.err = fmt.Errorf("building the wasm engine: %v\n%s", err, b)
			return
		}
		wasm, err := os.ReadFile(out)
		if err != nil {
			shared.err = err
			return
		}
		shared.r = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(wazero.NewCompilationCache()))
		shared.h, shared.err = wazerohost.Instantiate(ctx, shared.r, wazerohost.Config{Wasm: wasm})
	})
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.h
}

func closeWazero() {
	if shared.r != nil {
		shared.r.Close(context.Background())
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}
