package bench

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain either serves kalamtest for a parent benchmark (child mode), or
// runs the benchmarks and then fails the run when goroutines outlive them.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(serveChild())
	}
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked after the benchmarks:\n%s\n", leaked)
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
			ours := strings.Contains(g, "github.com/kalamgo/kalam") || strings.Contains(g, "github.com/coder/websocket")
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
