package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

const alicePW = "Alice-CLI-Pass-1"

// cliServer starts kalamtest with alice and a shop.orders table holding
// two rows, and points the CLI's environment at it as alice.
func cliServer(t *testing.T) *kalamtest.Server {
	t.Helper()
	srv := kalamtest.NewServer(t, kalamtest.Config{Users: []kalamtest.User{{Name: "alice", Password: alicePW}}})
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE NAMESPACE shop",
		"CREATE USER TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT, qty BIGINT)",
	} {
		if _, err := srv.Exec(ctx, "root", sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// A USER table: alice sees the rows she wrote.
	for _, sql := range []string{
		"INSERT INTO shop.orders (id, item, qty) VALUES (1, 'tea', 9007199254740993), (2, 'jam\tjar', NULL)",
	} {
		if _, err := srv.Exec(ctx, "alice", sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Setenv("KALAM_URL", srv.URL)
	t.Setenv("KALAM_USER", "alice")
	t.Setenv("KALAM_PASSWORD", alicePW)
	t.Setenv("KALAM_TOKEN", "")
	t.Setenv("KALAM_NAMESPACE", "")
	return srv
}

func runCLI(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = run(ctx, args, &out, &errOut)
	if s := out.String() + errOut.String(); strings.Contains(s, alicePW) {
		t.Fatalf("the password appears in the output of %v", args)
	}
	return code, out.String(), errOut.String()
}

func TestQueryTable(t *testing.T) {
	cliServer(t)
	code, out, errOut := runCLI(t, context.Background(), "query", "--namespace", "shop", "SELECT id, item, qty FROM orders ORDER BY id")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "id") || lines[3] != "(2 rows)" {
		t.Fatalf("table:\n%s", out)
	}
	// BIGINT beyond 2^53 keeps every digit; tabs are escaped; NULL is NULL.
	if !strings.Contains(lines[1], "9007199254740993") || !strings.Contains(lines[2], `jam\tjar`) || !strings.Contains(lines[2], "NULL") {
		t.Fatalf("cells:\n%s", out)
	}
}

func TestQueryJSON(t *testing.T) {
	cliServer(t)
	code, out, errOut := runCLI(t, context.Background(), "query", "-format", "json", "SELECT id, qty FROM shop.orders WHERE id = 1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []struct {
		Columns  []string                     `json:"columns"`
		Rows     []map[string]json.RawMessage `json:"rows"`
		RowCount int64                        `json:"row_count"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got) != 1 || len(got[0].Rows) != 1 || got[0].RowCount != 1 {
		t.Fatalf("result %+v", got)
	}
	if q := string(got[0].Rows[0]["qty"]); q != `"9007199254740993"` {
		t.Fatalf("qty = %s, want the server's exact string form", q)
	}
}

func TestQueryErrors(t *testing.T) {
	cliServer(t)
	ctx := context.Background()
	if code, _, errOut := runCLI(t, ctx, "query", "SELEC nonsense"); code != 1 || !strings.Contains(errOut, "kalam query:") {
		t.Fatalf("bad SQL: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, ctx, "query"); code != 2 {
		t.Fatalf("no SQL: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, ctx, "query", "-format", "xml", "SELECT 1"); code != 2 {
		t.Fatalf("bad format: exit %d, want 2", code)
	}
	t.Setenv("KALAM_PASSWORD", "wrong-password")
	if code, _, errOut := runCLI(t, ctx, "query", "SELECT id FROM shop.orders"); code != 1 || strings.Contains(errOut, "wrong-password") {
		t.Fatalf("wrong password: exit %d, stderr %q", code, errOut)
	}
}

func TestQueryWithoutCredentials(t *testing.T) {
	cliServer(t)
	t.Setenv("KALAM_PASSWORD", "")
	// An empty password is still a password; unset it for real.
	unsetenv(t, "KALAM_PASSWORD")
	code, _, errOut := runCLI(t, context.Background(), "query", "SELECT 1")
	if code != 1 || !strings.Contains(errOut, "KALAM_PASSWORD") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestLive(t *testing.T) {
	srv := cliServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"live", "--namespace", "shop", "--batch-size", "1", "--limit", "3", "SELECT * FROM orders WHERE qty IS NOT NULL OR id > 2"}, &out, &errOut)
	}()
	// Write only once the snapshot is in: then every write is a change.
	for !strings.Contains(errOut.String(), "snapshot loaded") {
		select {
		case code := <-done:
			t.Fatalf("live exited %d early: %s", code, errOut.String())
		case <-ctx.Done():
			t.Fatalf("no snapshot: %s", errOut.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	for _, sql := range []string{
		"INSERT INTO shop.orders (id, item, qty) VALUES (3, 'bun', 1)",
		"UPDATE shop.orders SET qty = 2 WHERE id = 3",
		"DELETE FROM shop.orders WHERE id = 3",
	} {
		if _, err := srv.Exec(ctx, "alice", sql); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-ctx.Done():
		t.Fatalf("live did not stop after 3 changes: %s", errOut.String())
	}
	var kinds []string
	var prev int64
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct {
			Kind string                       `json:"kind"`
			Seq  int64                        `json:"seq"`
			Rows []map[string]json.RawMessage `json:"rows"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		kinds = append(kinds, ev.Kind)
		if ev.Seq != 0 {
			if ev.Seq < prev {
				t.Fatalf("seq went backwards at %q", line)
			}
			prev = ev.Seq
		}
	}
	if got, want := strings.Join(kinds, ","), "subscribed,snapshot,insert,update,delete"; got != want {
		t.Fatalf("events %s, want %s\n%s", got, want, out.String())
	}
	if e := errOut.String(); !strings.Contains(e, "-> Live") {
		t.Fatalf("state changes missing from stderr:\n%s", e)
	}
}

func TestLiveWithoutNamespace(t *testing.T) {
	cliServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, _, errOut := runCLI(t, ctx, "live", "SELECT * FROM orders")
	if code != 1 || !strings.Contains(errOut, "--namespace") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestDiagram(t *testing.T) {
	ctx := context.Background()
	for format, want := range map[string]string{"mermaid": "stateDiagram-v2", "dot": "digraph"} {
		code, out, errOut := runCLI(t, ctx, "diagram", "-format", format)
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "Live") {
			t.Fatalf("%s: exit %d, stderr %q, out %.80q", format, code, errOut, out)
		}
	}
	path := t.TempDir() + "/l.dot"
	if code, _, errOut := runCLI(t, ctx, "diagram", "-format", "dot", "-o", path); code != 0 {
		t.Fatalf("-o: exit %d: %s", code, errOut)
	}
	if code, _, _ := runCLI(t, ctx, "diagram", "-format", "png"); code != 2 {
		t.Fatalf("unknown format: exit %d, want 2", code)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, errOut := runCLI(t, context.Background(), "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, cmd := range commands {
		if code, _, errOut := runCLI(t, context.Background(), cmd.name, "-h"); code != 0 || !strings.Contains(errOut, "Usage: kalam "+cmd.name) {
			t.Errorf("%s -h: exit %d, stderr %q", cmd.name, code, errOut)
		}
	}
}

// unsetenv removes key for the rest of the test; t.Setenv restores it.
func unsetenv(t *testing.T, key string) {
	t.Setenv(key, "")
	os.Unsetenv(key)
}

func TestDiagramSVG(t *testing.T) {
	if _, err := exec.LookPath("dot"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("graphviz `dot` is not installed; CI must install it (apt-get install -y graphviz)")
		}
		t.Skip("SKIPPING: graphviz `dot` is not installed; install it (apt-get install graphviz) to test -format svg")
	}
	code, out, errOut := runCLI(t, context.Background(), "diagram", "-format", "svg")
	if code != 0 || !strings.Contains(out, "<svg") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
