package browser

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/kalamtest/faultproxy"
)

// repoRoot is the kalam module, two levels up from this package.
const repoRoot = "../.."

var build struct {
	once    sync.Once
	dir     string
	wasm    string // path of kalam.wasm
	wasmExe string // path of wasm_exec.js in GOROOT
	err     error
}

// buildWasm builds wasm/browser with the script `make wasm` uses, once per
// run.
func buildWasm(tb testing.TB) (wasmPath, wasmExecPath string) {
	tb.Helper()
	build.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			build.err = err
			return
		}
		build.dir, build.err = os.MkdirTemp("", "kalam-wasm-")
		if build.err != nil {
			return
		}
		build.wasm = filepath.Join(build.dir, "kalam.wasm")
		cmd := exec.Command("sh", filepath.Join("scripts", "build-browser-wasm.sh"), build.wasm) // run in repoRoot
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "GO="+goBin)
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = &buildError{out: string(out), err: err}
			return
		}
		out, err := exec.Command(goBin, "env", "GOROOT").Output()
		if err != nil {
			build.err = err
			return
		}
		build.wasmExe = filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec.js")
		if _, err := os.Stat(build.wasmExe); err != nil {
			build.err = err
		}
	})
	if build.err != nil {
		tb.Fatalf("building the browser wasm: %v", build.err)
	}
	return build.wasm, build.wasmExe
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func cleanupBuild() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

const alicePassword = "Alice-Browser-Pass-1"

// world is one browser test's servers: kalamtest, a fault proxy in front of
// it, and the page server that serves the page and the client and forwards
// /v1/ (HTTP and WebSocket) through the proxy, so that the page talks to
// one origin and the proxy can cut its socket.
type world struct {
	srv   *kalamtest.Server
	proxy *faultproxy.Proxy
	page  *httptest.Server
}

func newWorld(tb testing.TB, cfg kalamtest.Config) *world {
	tb.Helper()
	cfg.Users = append(cfg.Users, kalamtest.User{Name: "alice", Password: alicePassword, Role: "user"})
	w := &world{srv: kalamtest.NewServer(tb, cfg)}
	for _, sql := range []string{
		"CREATE NAMESPACE app",
		"CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT, note TEXT)",
	} {
		if _, err := w.srv.Exec(context.Background(), "root", sql); err != nil {
			tb.Fatalf("%s: %v", sql, err)
		}
	}
	p, err := faultproxy.New(w.srv.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	w.proxy = p

	target, _ := url.Parse("http://" + p.Addr())
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = nil
	transport := &http.Transport{}
	rp.Transport = transport
	tb.Cleanup(transport.CloseIdleConnections)

	mux := pageMux(tb)
	mux.Handle("/v1/", rp)
	w.page = httptest.NewServer(mux)
	tb.Cleanup(w.page.Close)
	return w
}

// pageMux serves the test pages, the harness and the client (index.js,
// wasm_exec.js, kalam.wasm as application/wasm) from testdata and the
// build, and nothing of the API.
func pageMux(tb testing.TB) *http.ServeMux {
	tb.Helper()
	wasmPath, wasmExec := buildWasm(tb)
	mux := http.NewServeMux()
	mux.HandleFunc("/kalam/kalam.wasm", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/wasm")
		http.ServeFile(rw, r, wasmPath)
	})
	mux.HandleFunc("/kalam/wasm_exec.js", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(rw, r, wasmExec)
	})
	mux.HandleFunc("/kalam/index.js", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(rw, r, filepath.Join(repoRoot, "bindings", "js", "index.js"))
	})
	mux.HandleFunc("/test-credentials", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(map[string]string{"user": "alice", "password": alicePassword})
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		if strings.Contains(name, "/") || strings.Contains(name, "..") {
			http.NotFound(rw, r)
			return
		}
		if strings.HasSuffix(name, ".js") {
			rw.Header().Set("Content-Type", "text/javascript")
		}
		http.ServeFile(rw, r, filepath.Join("testdata", name))
	})
	return mux
}

// write runs sql as alice, straight on the server.
func (w *world) write(tb testing.TB, sql string, params ...any) {
	tb.Helper()
	if _, err := w.srv.Exec(context.Background(), "alice", sql, params...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}
