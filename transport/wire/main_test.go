package wire_test

import (
	"testing"

	"github.com/kalamgo/kalam/internal/leakcheck"
)

// TestMain fails the run when a test leaves goroutines behind: every
// client, server and proxy must stop what it started.
func TestMain(m *testing.M) { leakcheck.Main(m) }
