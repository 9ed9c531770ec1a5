package demo

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoRuns runs the README's demo end to end: it fails when any claim of
// its summary does not hold.
func TestDemoRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := Run(ctx, &out, Options{DiagramPath: filepath.Join(t.TempDir(), "lifecycle.mmd"), TokenTTL: 2 * time.Second})
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{"refused before the wire", "token refreshed", "socket lost", "resumed", "drained", "demo OK"} {
		if !strings.Contains(out.String(), want) && !strings.Contains(strings.ToLower(out.String()), strings.ToLower(want)) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
