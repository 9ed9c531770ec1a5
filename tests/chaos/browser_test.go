package chaos

import (
	"context"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

// BrowserConfig is what scenario 33 asks of the browser build: connect to
// URL (the proxy) as User, live-query SQL in Namespace.
type BrowserConfig struct {
	URL, User, Password, Namespace, SQL string
	// RowCostMicros, when set, makes the page's consumer spend that long
	// per row of each event, on the page's main thread (scenario 37).
	RowCostMicros int
}

// BrowserEvent is one live event the browser build reported: its kind as
// the JS API names it, and the id and _seq of every row it carries.
type BrowserEvent struct {
	Kind string
	IDs  []int
	Seqs []int64
	// Continuity and From are set on "resumed".
	Continuity string
	From       int64
}

// BrowserSubscriber is the browser build running one live query.
type BrowserSubscriber interface {
	// Events delivers the page's events in order; it is closed when the
	// page stops.
	Events() <-chan BrowserEvent
	// Connects counts the page's socket openings so far.
	Connects() int
	// Losses counts the page's lost connections so far.
	Losses() int
	// Err says why Events was closed early.
	Err() error
	Close() error
}

// browserSubscriber starts the browser build in a headless browser
// (chromium_test.go sets it).
var browserSubscriber func(ctx context.Context, t testing.TB, cfg BrowserConfig) (BrowserSubscriber, error)

// S33: the proxy closes the browser's socket; the browser build reconnects
// on its own and resumes.
func s33(t *testing.T) {
	if browserSubscriber == nil {
		msg := "scenario 33 needs the browser harness (a file of this package setting browserSubscriber, from the browser issue) and Chromium"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("NOT RUN: " + msg)
	}
	w := newWorld(t, Driver{Name: "browser"}, kalamtest.Config{})
	tb := w.table("items")
	w.insert(tb, 1, 2, 3)
	sub, err := browserSubscriber(w.ctx, t, BrowserConfig{URL: w.url, User: "alice", Password: alicePassword, Namespace: "app", SQL: "SELECT * FROM items"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var got []BrowserEvent
	waitIDs := func(want ...int) {
		t.Helper()
		for {
			have := map[int]bool{}
			for _, ev := range got {
				for _, id := range ev.IDs {
					have[id] = true
				}
			}
			if !slices.ContainsFunc(want, func(id int) bool { return !have[id] }) {
				return
			}
			select {
			case ev, ok := <-sub.Events():
				if !ok {
					t.Fatalf("the page stopped (%v) before ids %v: %+v", sub.Err(), want, got)
				}
				got = append(got, ev)
			case <-w.ctx.Done():
				t.Fatalf("timed out waiting for ids %v: %+v", want, got)
			}
		}
	}
	waitIDs(1, 2, 3)
	w.insert(tb, 4)
	waitIDs(4)
	w.proxy.Down()
	w.insert(tb, 5)
	for sub.Losses() == 0 {
		if w.ctx.Err() != nil {
			t.Fatal("the page never noticed the drop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	hold(300 * time.Millisecond) // the page redials into the refusing proxy
	w.restore(w.proxy.Up)
	waitIDs(5)
	w.insert(tb, 6)
	waitIDs(6)
	var ids []int
	var last int64
	for _, ev := range got {
		if ev.Kind == "delete" || ev.Kind == "update" {
			continue
		}
		ids = append(ids, ev.IDs...)
		for _, s := range ev.Seqs {
			if s <= last {
				t.Fatalf("_seq %d after %d: %+v", s, last, got)
			}
			last = s
		}
	}
	sort.Ints(ids)
	if !slices.Equal(ids, seq(1, 6)) {
		t.Fatalf("ids %v, want 1..6 exactly once", ids)
	}
	if n := sub.Connects(); n != 2 {
		t.Fatalf("the page connected %d times, want 2", n)
	}
}
