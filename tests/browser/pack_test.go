package browser

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// jsPackageFiles are the files of bindings/js that a pack needs.
var jsPackageFiles = []string{"package.json", "index.js", "index.node.js", "index.d.ts", "README.md", "prepack.mjs"}

var app struct {
	once    sync.Once
	dir     string // testdata/bundlers installed with npm ci, the package unpacked into it
	tarball string
	files   []string // the tarball's file names
	err     error
}

// npmTool finds node and npm (failing in CI, skipping loudly elsewhere).
func npmTool(tb testing.TB) (node, npm string) {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		npm, err = exec.LookPath("npm")
	}
	if err != nil {
		need(tb, "node and npm (20 or later)", "apt-get install nodejs npm", err)
	}
	return node, npm
}

// packedApp packs bindings/js with `npm pack` (its prepack taking the
// module this run built), installs testdata/bundlers with `npm ci` from its
// lockfile, and unpacks the tarball into its node_modules as npm would
// install it. Once per run; the directory goes with the build directory.
func packedApp(tb testing.TB) string {
	tb.Helper()
	_, npm := npmTool(tb)
	wasmPath, wasmExec := buildWasm(tb)
	app.once.Do(func() { app.err = installApp(npm, wasmPath, wasmExec) })
	if app.err != nil {
		tb.Fatalf("packing and installing the JS package: %v", app.err)
	}
	return app.dir
}

func installApp(npm, wasmPath, wasmExec string) error {
	pkg := filepath.Join(build.dir, "pkg")
	if err := copyFiles(filepath.Join(repoRoot, "bindings", "js"), pkg, jsPackageFiles); err != nil {
		return err
	}
	cmd := exec.Command(npm, "pack", "--pack-destination", build.dir)
	cmd.Dir = pkg
	cmd.Env = append(os.Environ(), "KALAM_PREBUILT_WASM="+wasmPath, "KALAM_PREBUILT_WASM_EXEC="+wasmExec)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("npm pack: %w\n%s", err, stderrOf(err))
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return errors.New("npm pack named no tarball")
	}
	app.tarball = filepath.Join(build.dir, lines[len(lines)-1])

	app.dir = filepath.Join(build.dir, "app")
	src := filepath.Join("testdata", "bundlers")
	if err := copyFiles(src, app.dir, []string{"package.json", "package-lock.json", "index.html", "main.js", "webpack.build.mjs", "node-check.mjs", "node-api.mjs"}); err != nil {
		return err
	}
	cmd = exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = app.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in testdata/bundlers: %w\n%s", err, out)
	}
	app.files, err = untarPackage(app.tarball, filepath.Join(app.dir, "node_modules", "@kalamgo", "kalam"))
	return err
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

func copyFiles(from, to string, names []string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// untarPackage unpacks an npm tarball (files under package/) into dir and
// returns the names it held.
func untarPackage(tarball, dir string) ([]string, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		name, ok := strings.CutPrefix(h.Name, "package/")
		if !ok || h.Typeflag != tar.TypeReg || strings.Contains(name, "..") {
			return nil, fmt.Errorf("unexpected tarball entry %q", h.Name)
		}
		names = append(names, name)
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
	}
}

// TestNodePackRefusesWithoutWasm checks that `npm pack` cannot make a
// tarball without the WebAssembly module: outside the repository (nothing
// to build from) the prepack script refuses and no tarball appears.
func TestNodePackRefusesWithoutWasm(t *testing.T) {
	_, npm := npmTool(t)
	pkg := filepath.Join(t.TempDir(), "pkg")
	if err := copyFiles(filepath.Join(repoRoot, "bindings", "js"), pkg, jsPackageFiles); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(npm, "pack", "--pack-destination", out)
	cmd.Dir = pkg
	cmd.Env = append(os.Environ(), "KALAM_PREBUILT_WASM=")
	combined, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("npm pack succeeded without kalam.wasm:\n%s", combined)
	}
	if !strings.Contains(string(combined), "refusing to pack") {
		t.Fatalf("npm pack failed without saying why:\n%s", combined)
	}
	if left, _ := filepath.Glob(filepath.Join(out, "*.tgz")); len(left) > 0 {
		t.Fatalf("a tarball was made anyway: %v", left)
	}
}
