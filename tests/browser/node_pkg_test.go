package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

// TestNodePackage runs the packed package under Node, imported by name
// (testdata/bundlers/node-check.mjs): the wasm is read from disk, queries
// go over Node's fetch, live over a WebSocket, the fault proxy cuts the
// socket while rows are written (the client resumes with each row once),
// and drain ends within its deadline, after which Node exits by itself.
// Twice: with the `ws` package (Node 20 and 21 have no global WebSocket)
// and with the platform's WebSocket (--experimental-websocket on Node 20
// and 21, built in from 22).
func TestNodePackage(t *testing.T) {
	node, _ := npmTool(t)
	dir := packedApp(t)
	out, err := exec.Command(node, "-p", "process.versions.node.split('.')[0]").Output()
	if err != nil {
		t.Fatal(err)
	}
	major, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	if major < 20 {
		t.Fatalf("node %d: the package supports 20 and later", major)
	}
	type mode struct {
		name   string
		flags  []string
		fromWs bool
		stuck  bool // drain while the network swallows everything
	}
	modes := []mode{
		{"platform-websocket", []string{"--experimental-websocket"}, false, false},
		{"platform-websocket-stuck-drain", []string{"--experimental-websocket"}, false, true},
	}
	if major < 22 {
		modes = append(modes, mode{"ws-package", nil, true, false})
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			w := newWorld(t, kalamtest.Config{HeartbeatInterval: 50 * time.Millisecond})
			s := startNodeCheck(t, node, dir, "http://"+w.proxy.Addr(), m.flags)

			q := s.step("query")
			if fmt.Sprint(q["rows"]) != "[map[id:1 status:node]]" || q["fromWs"] != m.fromWs {
				t.Fatalf("query step: %v (want fromWs=%v)", q, m.fromWs)
			}
			if l := s.step("live"); fmt.Sprint(l["ids"]) != "[1]" || l["state"] != "Live" {
				t.Fatalf("live step: %v", l)
			}

			w.proxy.Down()
			w.proxy.Drop()
			for id := 2; id <= 6; id++ {
				w.write(t, "INSERT INTO app.orders (id, status) VALUES ($1, 'outage')", id)
			}
			w.proxy.Up()
			s.send("resume")
			r := s.step("resumed")
			if fmt.Sprint(r["ids"]) != "[1 2 3 4 5 6]" || r["resumed"] != true || !slices.Contains(asStrings(r["states"]), "Backoff") {
				t.Fatalf("resumed step: %v", r)
			}

			const timeoutMs = 3000
			if m.stuck {
				w.proxy.Blackhole(true)
			}
			s.send(strconv.Itoa(timeoutMs))
			d := s.step("drain")
			outcome, _ := d["outcome"].(map[string]any)
			ms, _ := d["ms"].(float64)
			// Stuck, the unsubscribe is sent but the closing handshake is
			// never answered: the drain still ends by its deadline.
			if ms > timeoutMs+500 || (!m.stuck && outcome["timedOut"] != false) || d["state"] != "Closed" {
				t.Fatalf("drain step (stuck=%v): %v", m.stuck, d)
			}
			if !m.stuck && d["ended"] != "done" {
				t.Fatalf("the drained subscription's iterator: %v", d["ended"])
			}
			t.Logf("drain({timeoutMs: %d}) took %.0f ms: %v", timeoutMs, ms, outcome)
			s.exited(t, 10*time.Second)
		})
	}
}

func asStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

// nodeCheck is node-check.mjs running: commands go to its stdin, steps come
// back as JSON lines.
type nodeCheck struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan map[string]any
	stderr *strings.Builder
	done   chan error
}

func startNodeCheck(t *testing.T, node, dir, url string, flags []string) *nodeCheck {
	return startNodeScript(t, node, dir, "node-check.mjs", url, flags)
}

func startNodeScript(t *testing.T, node, dir, script, url string, flags []string) *nodeCheck {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	args := append(slices.Clone(flags), filepath.Join(dir, script))
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KALAM_URL="+url, "KALAM_USER=alice", "KALAM_PASSWORD="+alicePassword, "NODE_OPTIONS=")
	s := &nodeCheck{t: t, cmd: cmd, lines: make(chan map[string]any, 16), stderr: &strings.Builder{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m = map[string]any{"step": "stdout", "line": sc.Text()}
			}
			s.lines <- m
		}
		close(s.lines)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		s.stdin.Close()
		cancel()
		<-s.done
	})
	return s
}

func (s *nodeCheck) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("writing to node: %v", err)
	}
}

// step waits for the step named want, failing on an error step, a stray
// line or a timeout.
func (s *nodeCheck) step(want string) map[string]any {
	s.t.Helper()
	select {
	case m, ok := <-s.lines:
		if !ok {
			s.t.Fatalf("node exited before step %s\n%s", want, s.stderr)
		}
		if m["step"] != want {
			s.t.Fatalf("node step %v, want %s\n%s", m, want, s.stderr)
		}
		return m
	case <-time.After(30 * time.Second):
		s.t.Fatalf("no step %s from node within 30 s\n%s", want, s.stderr)
	}
	return nil
}

// exited closes stdin and checks that node ends by itself, with status 0,
// within d: nothing the client left behind keeps the process alive.
func (s *nodeCheck) exited(t *testing.T, d time.Duration) {
	t.Helper()
	s.stdin.Close()
	for m := range s.lines {
		t.Errorf("unexpected output from node: %v", m)
	}
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("node exited with %v\n%s", err, s.stderr)
		}
	case <-time.After(d):
		t.Fatalf("node did not exit within %v after drain", d)
	}
}
