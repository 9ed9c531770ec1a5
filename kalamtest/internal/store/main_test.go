package store

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// TestMain fails the run when goroutines outlive the tests.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	// The fuzzing engine leaves its signal goroutine running.
	if f := flag.Lookup("test.fuzz"); code == 0 && (f == nil || f.Value.String() == "") {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(os.Stderr, "goroutine leak: %d before, %d after\n%s\n", before, n, buf)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	rootSess  = Session{User: "root", Role: "system"}
	aliceSess = Session{User: "alice", Role: "user", Namespace: "app"}
	bobSess   = Session{User: "bob", Role: "user", Namespace: "app"}
)

// newStore opens an in-memory store with namespace app, closed at the end
// of the test.
func newStore(t testing.TB, opts ...Options) *Store {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	mustExec(t, s, rootSess, "CREATE NAMESPACE app")
	return s
}

func mustExec(t testing.TB, s *Store, sess Session, sql string, params ...any) Result {
	t.Helper()
	r, err := s.Exec(context.Background(), sess, sql, params)
	if err != nil {
		t.Fatalf("Exec(%q): %v", sql, err)
	}
	return r
}

func execErr(t testing.TB, s *Store, sess Session, sql string, params ...any) *Error {
	t.Helper()
	_, err := s.Exec(context.Background(), sess, sql, params)
	if err == nil {
		t.Fatalf("Exec(%q): want an error, got none", sql)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Exec(%q): error %T is not *Error", sql, err)
	}
	return e
}

// rowsJSON renders a result's rows compactly: [["1","a"],…].
func rowsJSON(t testing.TB, r wire.QueryResult) string {
	t.Helper()
	if r.Rows == nil {
		return "[]"
	}
	b, err := json.Marshal(r.Rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// query runs one SELECT and returns its single result.
func query(t testing.TB, s *Store, sess Session, sql string, params ...any) wire.QueryResult {
	t.Helper()
	r := mustExec(t, s, sess, sql, params...)
	if len(r.Results) != 1 {
		t.Fatalf("Exec(%q): %d results, want 1", sql, len(r.Results))
	}
	return r.Results[0]
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// collector records changes from Watch.
type collector struct {
	ch chan Change
}

func watch(t testing.TB, s *Store) *collector {
	c := &collector{ch: make(chan Change, 10000)}
	stop := s.Watch(func(ch Change) { c.ch <- ch })
	t.Cleanup(stop)
	return c
}

// drain returns every change delivered so far. Exec returns only after its
// changes were delivered, so no waiting is needed.
func (c *collector) drain() []Change {
	var out []Change
	for {
		select {
		case ch := <-c.ch:
			out = append(out, ch)
		default:
			return out
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
