// Package cli drives the kalam binary through a pseudo-terminal, as a person
// at a keyboard would: the interactive shell (password prompt, history,
// multi-line statements, meta commands, completion, Ctrl-C) and the live
// command's progress line.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/kalamgo/kalam/kalamtest"
)

var kalamBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kalam-pty-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kalamBin = filepath.Join(dir, "kalam")
	build := exec.Command("go", "build", "-o", kalamBin, "./cmd/kalam")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building kalam: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const alicePW = "Alice-Pty-Pass-1"

func newServer(t *testing.T) *kalamtest.Server {
	t.Helper()
	srv := kalamtest.NewServer(t, kalamtest.Config{Users: []kalamtest.User{{Name: "alice", Password: alicePW, Role: "dba"}}})
	for _, sql := range []string{
		"CREATE NAMESPACE shop",
		"CREATE SHARED TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT)",
		"INSERT INTO shop.orders (id, item) VALUES (1, 'tea'), (2, 'jam')",
	} {
		if _, err := srv.Exec(context.Background(), "root", sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return srv
}

// session is the binary running on a pseudo-terminal.
type session struct {
	t    *testing.T
	cmd  *exec.Cmd
	pty  *os.File
	mu   sync.Mutex
	out  strings.Builder
	seen int // output before this offset has been matched already
	done chan struct{}
}

func start(t *testing.T, env []string, args ...string) *session {
	t.Helper()
	cmd := exec.Command(kalamBin, args...)
	cmd.Env = append([]string{"TERM=xterm", "PATH=" + os.Getenv("PATH")}, env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 250})
	if err != nil {
		t.Fatal(err)
	}
	s := &session{t: t, cmd: cmd, pty: f, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		f.Close()
	})
	return s
}

// expect waits until the output after the last match contains want.
func (s *session) expect(want string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		all := s.out.String()
		s.mu.Unlock()
		if i := strings.Index(all[s.seen:], want); i >= 0 {
			s.seen += i + len(want)
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q in the output after offset %d:\n%q", want, s.seen, all[s.seen:])
		}
		select {
		case <-s.done:
			// The process closed the terminal: one last look, then fail.
			s.mu.Lock()
			all = s.out.String()
			s.mu.Unlock()
			if strings.Contains(all[s.seen:], want) {
				continue
			}
			s.t.Fatalf("the program ended without printing %q:\n%q", want, all[s.seen:])
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *session) send(keys string) {
	s.t.Helper()
	if _, err := s.pty.Write([]byte(keys)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *session) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// wait waits for the program to exit and returns its exit code.
func (s *session) wait() int {
	s.t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- s.cmd.Wait() }()
	select {
	case <-ch:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		s.t.Fatalf("the program did not exit:\n%q", s.output())
	}
	return -1
}

func TestShell(t *testing.T) {
	srv := newServer(t)
	home := t.TempDir()
	state := filepath.Join(home, "state")
	env := []string{"HOME=" + home, "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"KALAM_URL=" + srv.URL, "KALAM_USER=alice"}

	s := start(t, env)
	// No password in the environment: the shell asks, without echo.
	s.expect("Password for alice at " + srv.URL + ": ")
	s.send(alicePW + "\r")
	s.expect("kalam shell: ")
	s.expect("kalam=> ")

	typeSQL(s)
	followLive(t, s, srv)

	s.send("\x04") // Ctrl-D ends the session
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d:\n%q", code, s.output())
	}
	if strings.Contains(s.output(), alicePW) {
		t.Fatal("the password was echoed")
	}
	checkHistory(t, filepath.Join(state, "kalam", "history"))

	// A second session recalls the last entry with Ctrl-P (history up).
	s = start(t, append(env, "KALAM_PASSWORD="+alicePW))
	s.expect("kalam=> ")
	s.send("\x10\r")
	s.expect("answer")
	s.expect("42")
	s.send(`\q` + "\r")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d after \\q", code)
	}
}

// typeSQL: namespaces, multi-line input, Ctrl-C on a line, completion and
// the meta commands.
func typeSQL(s *session) {
	s.send(`\c shop` + "\r")
	s.expect("Namespace is now shop.")
	s.expect("shop=> ")

	// A statement over two lines runs at the semicolon.
	s.send("SELECT id,\r")
	s.expect("    -> ")
	s.send("item FROM orders ORDER BY id;\r")
	s.expect(" 2 | jam")
	s.expect("(2 rows)")

	// Ctrl-C drops the line being typed.
	s.send("SELECT nonsense")
	s.send("\x03")
	s.send("SELECT 7 AS seven;\r")
	s.expect("seven")
	s.expect("(1 row)")

	// Tab completes a table name.
	s.send("SELECT item FROM ord\t WHERE id = 1;\r")
	s.expect(" tea")
	s.expect("(1 row)")

	s.send(`\timing` + "\r")
	s.expect("Timing is on.")
	s.send("SELECT 1 AS one;\r")
	s.expect("Took: ")

	s.send(`\dt` + "\r")
	s.expect("orders")
	s.send(`\d orders` + "\r")
	s.expect("primary key")
	s.send(`\dn` + "\r")
	s.expect("shop")
	s.send("SELEC 1;\r")
	s.expect("ERROR: the server refused the statement")
}

// followLive: \live follows until Ctrl-C, then the shell goes on.
func followLive(t *testing.T, s *session, srv *kalamtest.Server) {
	// \live follows until Ctrl-C, then the shell goes on.
	s.send(`\live SELECT * FROM orders` + "\r")
	s.expect(`"last":true`)
	if _, err := srv.Exec(context.Background(), "root", "INSERT INTO shop.orders (id, item) VALUES (3, 'bun')"); err != nil {
		t.Fatal(err)
	}
	s.expect(`{"kind":"insert"`)
	s.send("\x03")
	s.expect("Live query stopped.")
	s.expect("shop=> ")
	s.send("SELECT 42 AS answer;\r")
	s.expect("answer")
	s.expect("(1 row)")
}

// checkHistory: the history is private and kept the entries, multi-line
// ones joined.
func checkHistory(t *testing.T, hist string) {
	fi, err := os.Stat(hist)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("history file: %v %v", err, fi)
	}
	b, _ := os.ReadFile(hist)
	for _, want := range []string{`\c shop`, "SELECT id, item FROM orders ORDER BY id;", `\live SELECT * FROM orders`, "SELECT 42 AS answer;"} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("history lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), alicePW) {
		t.Fatal("the password is in the history")
	}
}

// TestShellRefusedLogin: a wrong password ends the shell at once with the
// authentication exit code.
func TestShellRefusedLogin(t *testing.T) {
	srv := newServer(t)
	home := t.TempDir()
	s := start(t, []string{"HOME=" + home, "KALAM_URL=" + srv.URL, "KALAM_USER=alice", "KALAM_PASSWORD=wrong"})
	s.expect("the server refused the credentials")
	if code := s.wait(); code != 4 {
		t.Fatalf("exit %d, want 4", code)
	}
}

// TestLiveProgressOnTerminal: with stderr on a terminal the snapshot's
// progress is one line redrawn in place, with the total.
func TestLiveProgressOnTerminal(t *testing.T) {
	srv := newServer(t)
	home := t.TempDir()
	s := start(t, []string{"HOME=" + home, "KALAM_URL=" + srv.URL, "KALAM_USER=alice", "KALAM_PASSWORD=" + alicePW},
		"live", "--batch-size", "1", "--limit", "1", "SELECT * FROM shop.orders")
	s.expect("\r\x1b[Kloading snapshot: 1 of 2 rows (50%)")
	s.expect("snapshot loaded: 2 rows")
	if _, err := srv.Exec(context.Background(), "root", "INSERT INTO shop.orders (id, item) VALUES (9, 'fig')"); err != nil {
		t.Fatal(err)
	}
	s.expect(`{"kind":"insert"`)
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d:\n%q", code, s.output())
	}
	if n := strings.Count(s.output(), "loading snapshot"); n > 2 {
		t.Fatalf("%d progress lines for 2 rows", n)
	}
}

// TestShellTerminated: SIGTERM ends the shell (Ctrl-C does not) and puts the
// terminal back.
func TestShellTerminated(t *testing.T) {
	srv := newServer(t)
	home := t.TempDir()
	s := start(t, []string{"HOME=" + home, "KALAM_URL=" + srv.URL, "KALAM_USER=alice", "KALAM_PASSWORD=" + alicePW})
	s.expect("kalam=> ")
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	s.send("SELECT 5 AS five;\r")
	s.expect("five")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(); code != 130 {
		t.Fatalf("exit %d after SIGTERM, want 130", code)
	}
}
