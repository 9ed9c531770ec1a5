package wazero

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kalamgo/kalam/internal/leakcheck"
	"github.com/tetratelabs/wazero"
)

// guestWasm is the engine module built by TestMain; guestErr says why not.
var (
	guestWasm []byte
	guestPath string
	guestErr  error
)

// TestMain builds the guest module with the go tool running the tests, so
// the suite needs no prior make wasm, and fails the run when goroutines
// outlive the tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kalam-wazero-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	guestPath = filepath.Join(dir, "kalam-engine.wasm")
	if guestErr = buildGuest("../../wasm/engine", guestPath); guestErr == nil {
		guestWasm, guestErr = os.ReadFile(guestPath)
		os.Setenv(EnvWasm, guestPath)
	}
	leakcheck.MainFunc(m, func() {
		closeShared()
		os.RemoveAll(dir)
	})
}

// goTool finds the go command of the toolchain running the tests.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// buildGuest builds the wasip1 reactor in pkg into out.
func buildGuest(pkg, out string) error { return buildGuestWith(pkg, out, "") }

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

// buildGuestWith builds with extra linker flags.
func buildGuestWith(pkg, out, ldflags string) error {
	goCmd := goTool()
	if goCmd == "" {
		return fmt.Errorf("no go tool found (GOROOT %q, PATH)", os.Getenv("GOROOT"))
	}
	cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w "+ldflags, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// needGuest fails the test when the guest could not be built.
func needGuest(t testing.TB) {
	t.Helper()
	if guestErr != nil {
		t.Fatalf("the guest module did not build: %v", guestErr)
	}
}

// shared is one runtime and host for the tests. Its compilation cache
// lives in the user cache directory, like the go build cache: compiling the
// guest takes seconds, and under the race detector close to a minute.
var shared struct {
	once sync.Once
	r    wazero.Runtime
	h    *Host
	err  error
}

func sharedHost(t testing.TB) *Host {
	t.Helper()
	needGuest(t)
	shared.once.Do(func() {
		ctx := context.Background()
		shared.r = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(testCache()))
		shared.h, shared.err = Instantiate(ctx, shared.r, Config{Wasm: guestWasm})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.h
}

// testCache returns the on-disk compilation cache for the tests, or an
// in-memory one when there is no user cache directory.
func testCache() wazero.CompilationCache {
	if dir, err := os.UserCacheDir(); err == nil {
		if c, err := wazero.NewCompilationCacheWithDir(filepath.Join(dir, "kalam", "wazero")); err == nil {
			return c
		}
	}
	return wazero.NewCompilationCache()
}

func closeShared() {
	if shared.r != nil {
		shared.r.Close(context.Background())
	}
}
