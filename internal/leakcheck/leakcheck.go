// Package leakcheck fails a test binary whose tests leave goroutines
// behind. Every package that starts goroutines (clients, servers, proxies)
// calls it from TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
//
// Goroutines alive before the tests started are ignored, so runtime and
// library background workers started at init never count.
package leakcheck

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Grace is how long stray goroutines get to finish after the last test.
const Grace = 5 * time.Second

// Main runs the tests and exits; the exit code is 1 when they passed but
// left goroutines running after Grace.
func Main(m *testing.M) {
	os.Exit(run(m, os.Stderr, Grace))
}

// MainFunc is Main with cleanup run after the tests and before the check,
// for packages that hold something for all their tests (a shared server,
// a runtime, a build directory).
func MainFunc(m *testing.M, cleanup func()) {
	os.Exit(runWith(m, os.Stderr, Grace, cleanup))
}

func run(m interface{ Run() int }, w io.Writer, grace time.Duration) int {
	return runWith(m, w, grace, nil)
}

func runWith(m interface{ Run() int }, w io.Writer, grace time.Duration, cleanup func()) int {
	before := ids()
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	if code == 0 {
		if leaked := Wait(before, grace); leaked != "" {
			fmt.Fprintf(w, "goroutines leaked by the tests:\n%s\n", leaked)
			code = 1
		}
	}
	return code
}

// Snapshot returns the ids of the goroutines alive now, for Wait.
func Snapshot() map[string]bool { return ids() }

// Wait polls until every goroutine not in before has ended, and returns
// the stacks of those still alive after d ("" when none are).
func Wait(before map[string]bool, d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		var leaked []string
		for id, stack := range stacks() {
			if !before[id] && !benign(stack) {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// benign reports the test framework's own goroutines, and the js/wasm
// runtime's, which waits in runtime.handleEvent for JavaScript callbacks.
func benign(stack string) bool {
	for _, s := range []string{"testing.(*M).", "testing.tRunner", "runtime.goexit0", "os/signal.", "leakcheck.stacks", "runtime.handleEvent"} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

func ids() map[string]bool {
	out := map[string]bool{}
	for id := range stacks() {
		out[id] = true
	}
	return out
}

// stacks returns every goroutine's stack keyed by its id.
func stacks() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		header, _, _ := strings.Cut(string(g), "\n")
		f := strings.Fields(header) // "goroutine 7 [running]:"
		if len(f) >= 2 && f[0] == "goroutine" {
			out[f[1]] = string(g)
		}
	}
	return out
}
