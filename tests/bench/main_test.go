package bench

import (
	"os"
	"testing"

	"github.com/kalamgo/kalam/internal/leakcheck"
)

// TestMain either serves kalamtest for a parent benchmark (child mode), or
// runs the benchmarks and then fails the run when goroutines outlive them.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(serveChild())
	}
	leakcheck.Main(m)
}
