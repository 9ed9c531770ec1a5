package wazero

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// guestBudget is the most the guest module (make wasm: -trimpath, -s -w)
// may weigh, raw. Measured 2026-12-08: 4,746,387 B, down from about 5.9 MB
// once the engine stopped linking package auth (golang-jwt and its crypto)
// and log/slog. The target is 4.5 MB; the 247 KB between lie in
// text/template, which github.com/qmuntal/stateless links for one
// HTMLEscapeString call in its graph output (never called by the guest).
// The engine's pacer and catch-up repair (issue 13) then added 64 KB
// (4,810,726 B), and the give-up policy, the reasons on transitions and
// their ABI encoding (issue 14) 80 KB more (4,890,406 B); the budget moved
// with them. A change that grows the guest past the budget must cut
// something else.
const guestBudget = 4_950_000

// TestGuestSize fails when the guest module grows past its budget.
func TestGuestSize(t *testing.T) {
	needGuest(t)
	t.Logf("kalam-engine.wasm: %d B raw (budget %d B)", len(guestWasm), guestBudget)
	if len(guestWasm) > guestBudget {
		t.Errorf("the guest module is %d B, over the budget of %d B", len(guestWasm), guestBudget)
	}
}

// guestForbidden are packages the guest must not link: it has no use for
// them, and each costs hundreds of KB of the module.
var guestForbidden = map[string]string{
	"github.com/kalamgo/kalam/auth":      "the engine needs only auth/credential",
	"github.com/golang-jwt/jwt/v5":       "comes with package auth's JWT reader",
	"log/slog":                           "the guest never logs (auth/credential leaves LogValue out of wasip1)",
	"net/http":                           "the host does all I/O",
	"github.com/coder/websocket":         "the host does all I/O",
	"github.com/kalamgo/kalam/kalamtest": "a test server",
}

// TestGuestDependencies fails when a package the guest avoids comes back
// (crypto of any kind included), and says why it has no place there.
func TestGuestDependencies(t *testing.T) {
	goCmd := goTool()
	if goCmd == "" {
		t.Fatal("no go tool")
	}
	cmd := exec.Command(goCmd, "list", "-deps", "../../wasm/engine")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !strings.Contains(string(out), "github.com/kalamgo/kalam/fsm\n") {
		t.Fatalf("go list printed no fsm; the listing is wrong:\n%s", out)
	}
	for _, d := range deps {
		if why, ok := guestForbidden[d]; ok {
			t.Errorf("the guest links %s: %s", d, why)
		}
		if d == "crypto" || strings.HasPrefix(d, "crypto/") {
			t.Errorf("the guest links %s: the engine verifies nothing and needs no crypto", d)
		}
	}
}

// BenchmarkGuestSize reports the guest module's raw size (it measures
// bytes, not time).
func BenchmarkGuestSize(b *testing.B) {
	needGuest(b)
	for b.Loop() {
	}
	b.ReportMetric(float64(len(guestWasm)), "raw-B")
}
