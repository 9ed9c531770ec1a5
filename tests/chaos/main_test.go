package chaos

import (
	"testing"

	"github.com/kalamgo/kalam/internal/leakcheck"
)

// TestMain fails the run when goroutines outlive the tests: every client,
// server and proxy a scenario starts must stop.
func TestMain(m *testing.M) { leakcheck.Main(m) }
