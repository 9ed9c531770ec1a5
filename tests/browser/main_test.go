// Package browser tests the browser build of the client (wasm/browser and
// bindings/js): in real headless Chromium against kalamtest, under Node for
// the unit tests, and by size.
package browser

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain runs the tests, removes the build directory, and fails the run
// when goroutines outlive the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	cleanupBuild()
	if code == 0 {
		if leaked := leakedGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to d for stray goroutines to end and returns
// the stacks of those that do not.
func leakedGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		var stray []string
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			ours := strings.Contains(g, "github.com/kalamgo/kalam") ||
				strings.Contains(g, "github.com/coder/websocket") ||
				strings.Contains(g, "github.com/chromedp/")
			if !ours || strings.Contains(g, "leakedGoroutines") || strings.Contains(g, "testing.(*M).") {
				continue
			}
			stray = append(stray, g)
		}
		if len(stray) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(stray, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// need fails the test when CI=true and skips it loudly otherwise: a missing
// tool must never let a run pass silently in CI.
func need(tb testing.TB, what, install string, err error) {
	tb.Helper()
	msg := fmt.Sprintf("%s is missing (%v); install it with: %s", what, err, install)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip("SKIPPED, NOT TESTED: " + msg)
}
