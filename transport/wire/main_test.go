package wire_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when a test leaves goroutines behind.
func TestMain(m *testing.M) {
	before := goroutineIDs()
	code := m.Run()
	if code == 0 {
		if leaked := waitForLeaks(before, 5*time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// waitForLeaks polls until every goroutine started during the run has ended,
// and returns the stacks of those still alive at the deadline.
func waitForLeaks(before map[string]bool, wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		var leaked []string
		for id, stack := range goroutineStacks() {
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

func benign(stack string) bool {
	for _, s := range []string{"testing.(*M).", "testing.tRunner", "runtime.goexit0", "os/signal."} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

func goroutineIDs() map[string]bool {
	ids := map[string]bool{}
	for id := range goroutineStacks() {
		ids[id] = true
	}
	return ids
}

// goroutineStacks returns every goroutine's stack keyed by its id.
func goroutineStacks() map[string]string {
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
