package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// start runs the binary in the background; lines of its stdout arrive on
// the returned channel (closed at EOF).
func (f *fixture) start(t *testing.T, extra []string, args ...string) (*exec.Cmd, <-chan string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(kalamBin, args...)
	for k, v := range f.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errBuf syncBuffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines, &errBuf
}

func next(t *testing.T, lines <-chan string, stderr *syncBuffer) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("output ended; stderr:\n%s", stderr.String())
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("no output line; stderr:\n%s", stderr.String())
	}
	return ""
}

// TestLiveJSONLines: one JSON line per event, keys in column order, _seq,
// seq and from as strings, state changes on stderr, --limit ends it.
func TestLiveJSONLines(t *testing.T) {
	f := newFixture(t)
	cmd, lines, stderr := f.start(t, nil, "live", "--limit", "3", "--batch-size", "2", "SELECT id, item, qty FROM shop.orders")
	seqRE := regexp.MustCompile(`"(_seq|seq)":"[0-9]+"`)
	var kinds []string
	snapshot := ""
	for len(kinds) == 0 || kinds[len(kinds)-1] != "snapshot-last" {
		l := next(t, lines, stderr)
		var ev struct {
			Kind string `json:"kind"`
			Last bool   `json:"last"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if ev.Kind == "snapshot" {
			if !seqRE.MatchString(l) || strings.Contains(l, `"_seq":3`) {
				t.Fatalf("snapshot without string _seq: %s", l)
			}
			snapshot += l
			if ev.Last {
				ev.Kind += "-last"
			}
		}
		kinds = append(kinds, ev.Kind)
	}
	if got := strings.Join(kinds, ","); got != "subscribed,snapshot,snapshot-last" {
		t.Fatalf("events %s", got)
	}
	if !strings.Contains(snapshot, `{"id":"1","item":"tea","qty":"9007199254740993","_seq":"`) {
		t.Fatalf("row keys out of column order or digits lost: %s", snapshot)
	}
	ctx := context.Background()
	for _, sql := range []string{
		"INSERT INTO shop.orders (id, item, qty) VALUES (4, 'bun', 1)",
		"UPDATE shop.orders SET qty = 2 WHERE id = 4",
		"DELETE FROM shop.orders WHERE id = 4",
	} {
		if _, err := f.srv.Exec(ctx, "alice", sql); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{`{"kind":"insert","seq":"`, `{"kind":"update","seq":"`, `{"kind":"delete","seq":"`} {
		if l := next(t, lines, stderr); !strings.HasPrefix(l, want) || !strings.Contains(l, `"id":"4"`) {
			t.Fatalf("got %s, want %s…", l, want)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v; stderr:\n%s", err, stderr.String())
	}
	e := stderr.String()
	for _, want := range []string{"state: Connected -> Live (Subscribe)", "snapshot loaded: 3 rows", "Draining -> Closed"} {
		if !strings.Contains(e, want) {
			t.Errorf("stderr lacks %q:\n%s", want, e)
		}
	}
	if strings.Contains(e, "loading snapshot") || strings.Contains(e, "\r") {
		t.Errorf("progress redraws on a stderr that is not a terminal:\n%q", e)
	}
}

// TestLiveInterrupt: SIGINT drains and exits 0.
func TestLiveInterrupt(t *testing.T) {
	f := newFixture(t)
	cmd, lines, stderr := f.start(t, nil, "live", "-n", "shop", "SELECT * FROM orders")
	for l := ""; !strings.Contains(l, `"last":true`); {
		l = next(t, lines, stderr)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "-> Draining (Drain)") {
		t.Fatalf("no drain on SIGINT:\n%s", stderr.String())
	}
}

// TestLiveFailFast: with --fail-fast a lost connection ends the command
// with the connection exit code instead of a retry.
func TestLiveFailFast(t *testing.T) {
	f := newFixture(t)
	cmd, lines, stderr := f.start(t, nil, "live", "--fail-fast", "SELECT * FROM shop.orders")
	for l := ""; !strings.Contains(l, `"last":true`); {
		l = next(t, lines, stderr)
	}
	f.srv.DropConnections()
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitConnection {
		t.Fatalf("exit %d (%v), want %d; stderr:\n%s", code, err, exitConnection, stderr.String())
	}
	if !strings.Contains(stderr.String(), "--fail-fast") {
		t.Fatalf("stderr does not say why:\n%s", stderr.String())
	}
}

// TestServeKeepsPassword: a generated root password is printed as an export
// line, saved 0600 in the data dir, and the same after a restart; a cached
// login survives the restart too (the signing key is kept as well).
func TestServeKeepsPassword(t *testing.T) {
	f := newFixture(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	exportRE := regexp.MustCompile(`^export KALAM_URL=(http://\S+) KALAM_USER=root KALAM_PASSWORD=(\S+)$`)
	serve := func() (url, pw, banner string, stop func()) {
		cmd, lines, stderr := f.start(t, nil, "serve", "--addr", addr, "--data-dir", dataDir)
		var b strings.Builder
		for {
			l := next(t, lines, stderr)
			b.WriteString(l + "\n")
			if m := exportRE.FindStringSubmatch(l); m != nil {
				url, pw = m[1], m[2]
			}
			if strings.HasPrefix(l, "Press Ctrl+C") {
				break
			}
		}
		stop = func() {
			cmd.Process.Signal(syscall.SIGINT)
			if err := cmd.Wait(); err != nil {
				t.Errorf("serve exit: %v", err)
			}
			if pw == "" || strings.Contains(stderr.String(), pw) {
				t.Errorf("root's password missing from the banner or logged")
			}
		}
		return url, pw, b.String(), stop
	}
	url, pw1, banner1, stop := serve()
	if pw1 == "" || !strings.Contains(banner1, "generated and saved in") {
		t.Fatalf("first banner:\n%s", banner1)
	}
	fi, err := os.Stat(filepath.Join(dataDir, "root-password"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("root-password file: %v, %v", err, fi)
	}
	env := []string{"KALAM_URL=" + url, "KALAM_USER=root", "KALAM_PASSWORD=" + pw1}
	if r := f.kalam(t, "", env, "login"); r.code != 0 {
		t.Fatalf("login: %d %s", r.code, r.err)
	}
	stop()
	_, pw2, banner2, stop := serve()
	defer stop()
	if pw2 != pw1 || !strings.Contains(banner2, "is the one saved in") {
		t.Fatalf("the password changed across restarts (%t):\n%s", pw1 == pw2, banner2)
	}
	r := f.kalam(t, "", []string{"KALAM_URL=" + url, "KALAM_USER=root", "KALAM_PASSWORD="}, "query", "SELECT CURRENT_USER() AS me")
	if r.code != 0 || !strings.Contains(r.stdout, "root") {
		t.Fatalf("cached login after restart: %d %s %s", r.code, r.stdout, r.err)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestServeUsersAndLogs: --user seeds users, --log-level shows the server's
// records, and the banner's export line works as printed.
func TestServeUsersAndLogs(t *testing.T) {
	f := newFixture(t)
	cmd, lines, stderr := f.start(t, nil, "serve", "--addr", "127.0.0.1:0", "--log-level", "info", "--user", "bob:Bob:Pass-1:dba")
	var url string
	for {
		l := next(t, lines, stderr)
		if m := regexp.MustCompile(`^export KALAM_URL=(\S+) `).FindStringSubmatch(l); m != nil {
			url = m[1]
		}
		if strings.HasPrefix(l, "Press Ctrl+C") {
			break
		}
	}
	r := f.kalam(t, "", []string{"KALAM_URL=" + url, "KALAM_USER=bob", "KALAM_PASSWORD=Bob:Pass-1"}, "query", "SELECT CURRENT_USER() AS me")
	if r.code != 0 || !strings.Contains(r.stdout, "bob") {
		t.Fatalf("query as the seeded user: %d %q %q", r.code, r.stdout, r.err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exit: %v", err)
	}
	if !strings.Contains(stderr.String(), "listening") {
		t.Fatalf("no server log at --log-level info:\n%s", stderr.String())
	}
	if r := f.kalam(t, "", nil, "serve", "--user", "nopassword"); r.code != exitUsage || !strings.Contains(r.err, "name:password") {
		t.Fatalf("bad --user: exit %d %q", r.code, r.err)
	}
	if r := f.kalam(t, "", nil, "serve", "--log-level", "loud"); r.code != exitUsage {
		t.Fatalf("bad --log-level: exit %d %q", r.code, r.err)
	}
}
