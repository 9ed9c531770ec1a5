package httpapi_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBuildsForWasm builds the package for the browser (net/http over fetch)
// and for wasip1, and checks it stays free of wazero.
func TestBuildsForWasm(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed for this test: %v", err)
	}
	for _, goos := range []string{"js", "wasip1"} {
		env := append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH=wasm")
		build := exec.Command(gobin, "build", ".")
		build.Env = env
		if out, err := build.CombinedOutput(); err != nil {
			t.Errorf("go build for %s/wasm: %v\n%s", goos, err, out)
		}
		list := exec.Command(gobin, "list", "-deps", ".")
		list.Env = env
		out, err := list.Output()
		if err != nil {
			t.Fatalf("go list for %s/wasm: %v", goos, err)
		}
		if strings.Contains(string(out), "github.com/tetratelabs/wazero") {
			t.Errorf("%s/wasm: depends on wazero", goos)
		}
	}
}
