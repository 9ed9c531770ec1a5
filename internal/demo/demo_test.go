package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoRuns runs the README's demo end to end: it fails when any claim of
// its summary does not hold, and it writes nothing to disk unless asked.
func TestDemoRuns(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the old demo wrote its diagram unasked
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, &out, Options{TokenTTL: 2 * time.Second}); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"Step 1", "refused: no namespace is set",
		"← update  id=1: status: open → paid", "← delete  id=2 item=cake status=open",
		"new token in hand, the socket was not touched",
		"socket closed (WebSocket code 1006)", "← resumed after position", "← missed while offline  id=100",
		"The drain finished in time: 1 live query ended cleanly",
		"none lost, none twice", "demo OK",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	for _, jargon := range []string{"guard", "hasNamespace", "no-deletes", "{TimedOut", "%!"} {
		if strings.Contains(text, jargon) {
			t.Errorf("demo output has jargon %q:\n%s", jargon, text)
		}
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("the demo wrote %d file(s) without being asked", len(entries))
	}
}

func TestDemoDiagramOnRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "lifecycle.mmd")
	var out bytes.Buffer
	if err := Run(ctx, &out, Options{DiagramPath: path, TokenTTL: 2 * time.Second}); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "stateDiagram") {
		t.Fatalf("diagram: %v", err)
	}
}
