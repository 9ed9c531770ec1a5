package browser

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

// TestBrowserBundlers builds the same small app (testdata/bundlers) with
// Vite, esbuild and webpack from the packed tarball, with the versions in
// that directory's lockfile and no bundler configuration for the
// WebAssembly module, serves each output from its own loopback port and
// runs it in Chromium against kalamtest: login, a write, a query and a live
// query through its snapshot.
func TestBrowserBundlers(t *testing.T) {
	node, _ := npmTool(t)
	dir := packedApp(t)
	for _, want := range []string{"index.js", "index.node.js", "index.d.ts", "kalam.wasm", "wasm_exec.js", "package.json"} {
		if !slices.Contains(app.files, want) {
			t.Fatalf("the tarball lacks %s: %v", want, app.files)
		}
	}
	w := newWorld(t, kalamtest.Config{HeartbeatInterval: 50 * time.Millisecond})
	tab := newTab(t)

	builds := []struct {
		name  string
		build func(out string) error
	}{
		{"vite", func(out string) error {
			return run(dir, node, "node_modules/vite/bin/vite.js", "build", "--logLevel", "warn", "--outDir", out, "--emptyOutDir")
		}},
		{"esbuild", func(out string) error {
			if err := run(dir, filepath.Join(dir, "node_modules", ".bin", "esbuild"), "main.js", "--bundle", "--format=esm", "--log-level=warning", "--outfile="+filepath.Join(out, "main.js")); err != nil {
				return err
			}
			// esbuild does not follow new URL(…, import.meta.url): the one
			// documented step is to put kalam.wasm next to the bundle.
			if err := copyFiles(filepath.Join(dir, "node_modules", "@kalamgo", "kalam"), out, []string{"kalam.wasm"}); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(out, "index.html"), []byte(pageFor(`type="module" src="./main.js"`)), 0o644)
		}},
		{"webpack", func(out string) error {
			if err := run(dir, node, "webpack.build.mjs", out); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(out, "index.html"), []byte(pageFor(`src="./main.js"`)), 0o644)
		}},
	}
	for i, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			out := filepath.Join(dir, "dist-"+b.name)
			if err := b.build(out); err != nil {
				t.Fatalf("%s build: %v", b.name, err)
			}
			if wasm, _ := filepath.Glob(filepath.Join(out, "*.wasm")); len(wasm) == 0 {
				if more, _ := filepath.Glob(filepath.Join(out, "*", "*.wasm")); len(more) == 0 {
					t.Fatalf("%s emitted no .wasm", b.name)
				}
			}
			site := httptest.NewServer(http.FileServer(http.Dir(out)))
			defer site.Close()
			tab.navigate(site.URL + "/index.html")
			id := 100 + i
			res := eval[map[string]any](tab, fmt.Sprintf(`window.check(%q, "alice", %q, %d)`, w.srv.URL, alicePassword, id))
			if res["error"] != nil {
				t.Fatalf("%s app: %v", b.name, res["error"])
			}
			if fmt.Sprint(res["rows"]) != fmt.Sprintf("[map[id:%d status:bundled]]", id) ||
				fmt.Sprint(res["seen"]) != fmt.Sprintf("[%d]", id) || !strings.Contains(fmt.Sprint(res["kinds"]), "snapshot") {
				t.Fatalf("%s app saw %v", b.name, res)
			}
		})
	}
}

// TestBrowserViteDevServer loads the same app from Vite's dev server, which
// pre-bundles the package into its dependency cache, away from kalam.wasm,
// with no configuration.
func TestBrowserViteDevServer(t *testing.T) {
	node, _ := npmTool(t)
	dir := packedApp(t)
	w := newWorld(t, kalamtest.Config{HeartbeatInterval: 50 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	os.RemoveAll(filepath.Join(dir, "node_modules", ".vite")) // a cold cache, as on a first run
	cmd := exec.Command(node, "node_modules/vite/bin/vite.js", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--strictPort")
	cmd.Dir = dir
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vite dev server did not answer within 30 s:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond) // polling for the server to listen, not an assertion
	}
	tab := newTab(t)
	tab.navigate(base + "/")
	res := eval[map[string]any](tab, fmt.Sprintf(`window.check(%q, "alice", %q, 200)`, w.srv.URL, alicePassword))
	if res["error"] != nil || fmt.Sprint(res["seen"]) != "[200]" {
		t.Fatalf("app on vite's dev server: %v\n%s", res, log.String())
	}
}

func pageFor(scriptAttrs string) string {
	return `<!doctype html><html><head><meta charset="utf-8"><title>kalam bundled</title></head><body><script ` + scriptAttrs + `></script></body></html>`
}

// run runs a command in dir and returns its output with any failure.
func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}
