package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

// jsPackages are the packages whose unit tests also run compiled for
// js/wasm, in Node. The root package's js-only test (js_test.go) is the
// client against the kalamtest server started here.
var jsPackages = jsPkgs()

func jsPkgs() []string {
	if p := os.Getenv("KALAM_JS_PACKAGES"); p != "" {
		return strings.Fields(p)
	}
	return []string{"./fsm", "./auth", "./transport/wire", "./internal/jsnet", "."}
}

// mustPass are js-only tests that skip without the kalamtest server this
// test starts; each must show as passed, not skipped.
var mustPass = map[string][]string{
	".":                {"TestJSClient"},
	"./internal/jsnet": {"TestFetch", "TestWebSocket", "TestWebSocketBurst", "TestGunzip"},
}

// TestUnitTestsUnderNode runs the engine and client unit tests compiled
// with GOOS=js GOARCH=wasm in Node (Go's go_js_wasm_exec, run under another
// argv[0] so that net/http uses fetch as in a browser; Node 20 needs
// --experimental-websocket for the global WebSocket).
func TestUnitTestsUnderNode(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED, NOT TESTED in -short mode: the js/wasm unit tests take about a minute")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		need(t, "node (20 or later)", "apt-get install nodejs", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		need(t, "the go tool", "https://go.dev/dl/", err)
	}
	out, err := exec.Command(goBin, "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	execNode := filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec_node.js")
	if _, err := os.Stat(execNode); err != nil {
		t.Fatal(err)
	}
	// net/http turns fetch off when process.argv0 starts with "node"; the
	// browser build uses fetch, so the tests run it too.
	wrapper := filepath.Join(t.TempDir(), "go_js_wasm_exec_fetch")
	script := "#!/usr/bin/env bash\nexec -a kalam-wasm-node " + shellQuote(node) + " --stack-size=8192 " + shellQuote(execNode) + ` "$@"` + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	srv := kalamtest.NewServer(t, kalamtest.Config{
		Users:             []kalamtest.User{{Name: "alice", Password: alicePassword, Role: "user"}},
		HeartbeatInterval: 50 * time.Millisecond,
	})
	for _, sql := range []string{
		"CREATE NAMESPACE app",
		"CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT, note TEXT)",
	} {
		if _, err := srv.Exec(context.Background(), "root", sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	args := []string{"test", "-count=1", "-v", "-timeout=" + innerTimeout(), "-exec", wrapper}
	if skip := os.Getenv("KALAM_JS_SKIP"); skip != "" {
		args = append(args, "-skip", skip) // for investigating one failure; never set in CI
	}
	args = append(args, jsPackages...)
	cmd := exec.Command(goBin, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(),
		"GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0",
		"NODE_OPTIONS=--experimental-websocket",
		"KALAM_TEST_URL="+srv.URL,
		"KALAM_TEST_ADMIN_TOKEN="+srv.AdminToken(),
		"KALAM_TEST_USER=alice",
		"KALAM_TEST_PASSWORD="+alicePassword,
	)
	combined, err := cmd.CombinedOutput()
	text := string(combined)
	if err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go test %s: %v\n%s\n...\n%s", strings.Join(jsPackages, " "), err, failures(text), tail(text, 30))
	}
	for _, pkg := range jsPackages {
		name := strings.TrimSuffix("github.com/kalamgo/kalam/"+strings.TrimPrefix(pkg, "./"), "/.")
		if !regexp.MustCompile(`(?m)^ok\s+` + regexp.QuoteMeta(name) + `\s`).MatchString(text) {
			t.Errorf("no ok line for %s\n%s", name, tail(text, 40))
		}
	}
	for pkg, tests := range mustPass {
		if !slices.Contains(jsPackages, pkg) {
			continue
		}
		for _, name := range tests {
			if !strings.Contains(text, "--- PASS: "+name+" ") {
				t.Errorf("%s did not run and pass under js/wasm\n%s", name, tail(text, 40))
			}
		}
	}
}

// failures picks the lines that say what failed: build errors, failed
// tests and their messages.
func failures(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "--- FAIL") || strings.HasPrefix(t, "FAIL") || strings.HasPrefix(t, "#") ||
			(strings.Contains(t, ".go:") && !strings.HasPrefix(t, "---")) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// innerTimeout bounds the js/wasm test run so that a hang there is
// reported with its own goroutine dump, before this test's own deadline.
func innerTimeout() string {
	if d := os.Getenv("KALAM_JS_TIMEOUT"); d != "" {
		return d
	}
	return "5m"
}
