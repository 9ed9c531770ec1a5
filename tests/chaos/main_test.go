package chaos

import (
	"fmt"
	"os"
	"testing"

	"github.com/kalamgo/kalam/internal/leakcheck"
)

// TestMain fails the run when goroutines outlive the tests: every client,
// server and proxy a scenario starts must stop. The wazero runtime, shared
// by the whole run, is released first.
func TestMain(m *testing.M) {
	before := leakcheck.Snapshot()
	code := m.Run()
	closeWazero()
	closeBrowserBuild()
	if code == 0 {
		if leaked := leakcheck.Wait(before, leakcheck.Grace); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}
