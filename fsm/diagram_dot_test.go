//go:build !js

// No processes under js/wasm: the native run renders the DOT.

package fsm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDOTRendersWithGraphviz checks that Graphviz accepts the DOT without a
// warning, and (with -update, when the DOT changed) writes the SVG. CI installs graphviz, so there
// a missing dot is a failure.
func TestDOTRendersWithGraphviz(t *testing.T) {
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("graphviz `dot` is not installed; CI must install it (apt-get install -y graphviz)")
		}
		t.Skip("SKIPPING: graphviz `dot` is not installed; install it (apt-get install graphviz) to check the SVG export")
	}
	cmd := exec.Command(dotBin, "-Tsvg")
	cmd.Stdin = strings.NewReader(DOT())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dot failed: %v: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Fatalf("dot warned: %s", stderr.String())
	}
	if !bytes.Contains(stdout.Bytes(), []byte("<svg")) {
		t.Fatal("dot produced no SVG")
	}
	// The SVG is rewritten only when the DOT it was rendered from changed:
	// another Graphviz version lays the same graph out differently, and
	// that is no drift.
	path := filepath.Join(docsDir, "lifecycle.svg")
	if old, err := os.ReadFile(path); *update && (err != nil || !bytes.Contains(old, []byte(svgStamp()))) {
		if err := os.WriteFile(path, stampSVG(stdout.Bytes()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// stampSVG puts the stamp after the SVG's XML declaration.
func stampSVG(svg []byte) []byte {
	stamp := []byte(svgStamp() + "\n")
	if i := bytes.IndexByte(svg, '\n'); i >= 0 && bytes.HasPrefix(svg, []byte("<?xml")) {
		return append(append(append([]byte(nil), svg[:i+1]...), stamp...), svg[i+1:]...)
	}
	return append(stamp, svg...)
}
