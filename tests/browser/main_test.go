// Package browser tests the browser build of the client (wasm/browser and
// bindings/js): in real headless Chromium against kalamtest, under Node for
// the unit tests, and by size.
package browser

import (
	"fmt"
	"os"
	"testing"

	"github.com/kalamgo/kalam/internal/leakcheck"
)

// TestMain runs the tests, removes the build directory, and fails the run
// when goroutines outlive the tests.
func TestMain(m *testing.M) {
	leakcheck.MainFunc(m, cleanupBuild)
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
