//go:build js

package kalam_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

// TestJSClient runs the client compiled for js/wasm (in Node: fetch for
// HTTP, the global WebSocket for the socket) against a kalamtest server
// that the native harness in tests/browser starts: KALAM_TEST_URL, with
// user KALAM_TEST_USER (password KALAM_TEST_PASSWORD) owning app.orders.
// It covers queries, a live query through insert, update and delete, the
// server dropping every socket (the client reconnects and resumes with
// nothing lost or repeated), and drain.
func TestJSClient(t *testing.T) {
	url := os.Getenv("KALAM_TEST_URL")
	if url == "" {
		t.Skip("SKIPPED, NOT TESTED: KALAM_TEST_URL is not set; run it through tests/browser (TestUnitTestsUnderNode), which starts kalamtest")
	}
	var mu sync.Mutex
	var states []kalam.State
	lost := make(chan struct{}, 16)
	c, err := kalam.New(kalam.Config{
		URL:          url,
		Auth:         auth.Basic(os.Getenv("KALAM_TEST_USER"), os.Getenv("KALAM_TEST_PASSWORD")),
		Namespace:    "app",
		BackoffMin:   20 * time.Millisecond,
		BackoffMax:   200 * time.Millisecond,
		PingInterval: 500 * time.Millisecond,
		OnConnection: func(ev kalam.ConnectionEvent) {
			if !ev.Connected {
				select {
				case lost <- struct{}{}:
				default:
				}
			}
		},
		OnStateChange: func(tr kalam.Transition) {
			mu.Lock()
			states = append(states, tr.To)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if _, err := c.Query(ctx, "INSERT INTO orders (id, status) VALUES ($1, $2), ($3, $4)", 1, "open", 2, "open"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Query(ctx, "SELECT id, status FROM orders ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if rows := res.Rows(); len(rows) != 2 || rows[1].Get("status").String() != "open" {
		t.Fatalf("rows = %v", rows)
	}

	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next, stop := iterPull(sub.Events(ctx))
	defer stop()
	var ids []int64
	var lastSeq int64
	// step reads one event, recording the ids it brings and checking that
	// _seq only grows.
	step := func() kalam.Event {
		t.Helper()
		ev, err := next()
		if err != nil {
			mu.Lock()
			t.Fatalf("waiting for an event: %v (rows so far %v, states %v, now %v)", err, ids, states, c.State())
		}
		for _, r := range ev.Rows {
			if s, ok := r.Seq(); ok {
				if int64(s) <= lastSeq {
					t.Fatalf("_seq %d after %d", s, lastSeq)
				}
				lastSeq = int64(s)
			}
			if ev.Kind == kalam.EventSnapshot || ev.Kind == kalam.EventInsert {
				id, _ := r.Get("id").Int64()
				ids = append(ids, id)
			}
		}
		return ev
	}
	take := func(want kalam.EventKind) kalam.Event {
		t.Helper()
		for {
			if ev := step(); ev.Kind == want && (want != kalam.EventSnapshot || ev.Last) {
				return ev
			}
		}
	}
	take(kalam.EventSnapshot)
	// Row 3 carries a long note: its change frame is over the server's
	// compression threshold and arrives gzipped, which the browser build
	// inflates in its socket adapter (DecompressionStream).
	long := strings.Repeat("leave it at the door, ", 200)
	for _, sql := range []string{
		"INSERT INTO orders (id, status, note) VALUES (3, 'open', '" + long + "')",
		"UPDATE orders SET status = 'paid' WHERE id = 1",
		"DELETE FROM orders WHERE id = 2",
	} {
		if _, err := c.Query(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if ev := take(kalam.EventInsert); ev.Rows[0].Get("note").String() != long {
		t.Fatalf("insert of the long row: note is %d bytes", len(ev.Rows[0].Get("note").String()))
	}
	if ev := take(kalam.EventUpdate); ev.Rows[0].Get("status").String() != "paid" {
		t.Fatalf("update = %v", ev.Rows)
	}
	take(kalam.EventDelete)

	// The server drops every socket; rows written meanwhile arrive once.
	req, err := http.NewRequest(http.MethodPost, url+"/_kalamtest/faults/drop-connections", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Kalamtest-Admin", os.Getenv("KALAM_TEST_ADMIN_TOKEN"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("drop-connections: HTTP %d", resp.StatusCode)
	}
	// The server answers first and drops afterwards, keep-alive HTTP
	// connections included: write once the client has seen its socket go,
	// so no request rides a connection being cut.
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the socket was never dropped")
	}
	for id := 4; id <= 8; id++ {
		if _, err := c.Query(ctx, "INSERT INTO orders (id, status) VALUES ($1, 'again')", id); err != nil {
			t.Fatal(err)
		}
	}
	for !slices.Contains(ids, 8) {
		step()
	}
	slices.Sort(ids)
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(ids, want) {
		t.Fatalf("rows delivered = %v, want %v", ids, want)
	}
	mu.Lock()
	reconnected := slices.Contains(states, kalam.StateBackoff)
	mu.Unlock()
	if !reconnected {
		t.Fatal("the drop did not reach the client")
	}

	out, err := c.Drain(ctx)
	if err != nil {
		t.Fatalf("drain: %v (%+v)", err, out)
	}
	if _, err := c.Query(ctx, "SELECT 1"); !errors.Is(err, kalam.ErrClosed) {
		t.Fatalf("query after drain: %v", err)
	}
}

// iterPull turns an event sequence into a next function that fails after
// 10 s without an event.
func iterPull(seq func(func(kalam.Event, error) bool)) (func() (kalam.Event, error), func()) {
	type item struct {
		ev  kalam.Event
		err error
	}
	ch := make(chan item)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for ev, err := range seq {
			select {
			case ch <- item{ev, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	next := func() (kalam.Event, error) {
		select {
		case it, ok := <-ch:
			if !ok {
				return kalam.Event{}, errors.New("subscription ended")
			}
			return it.ev, it.err
		case <-time.After(10 * time.Second):
			return kalam.Event{}, errors.New("no event for 10 s")
		}
	}
	return next, func() { close(done) }
}
