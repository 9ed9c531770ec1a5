//go:build !js

package fsm

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// portable are the packages that must build for every target and stay free
// of the wazero host runtime.
var portable = []string{"./", "../auth", "../transport/wire"}

func TestPortablePackagesBuildForWasmWithoutWazero(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed for this test: %v", err)
	}
	for _, target := range []struct{ goos, goarch string }{{"", ""}, {"js", "wasm"}, {"wasip1", "wasm"}} {
		env := append(os.Environ(), "CGO_ENABLED=0")
		if target.goos != "" {
			env = append(env, "GOOS="+target.goos, "GOARCH="+target.goarch)
		}
		args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, portable...)
		cmd := exec.Command(gobin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list for %s/%s: %v\n%s", target.goos, target.goarch, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/tetratelabs/wazero") {
				t.Errorf("%s/%s: a portable package depends on %s", target.goos, target.goarch, dep)
			}
		}
		build := exec.Command(gobin, append([]string{"build"}, portable...)...)
		build.Env = env
		if out, err := build.CombinedOutput(); err != nil {
			t.Errorf("go build for %s/%s: %v\n%s", target.goos, target.goarch, err, out)
		}
	}
}
