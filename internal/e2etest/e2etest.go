// Package e2etest holds the helpers the end-to-end suites share: reading a
// subscription's events on their own goroutine, waiting on conditions over
// them, checking order and exactly-once delivery, and recording state
// transitions. The root package's tests and the wazero host's tests run
// the same flows with them.
package e2etest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/transport/wire"
)

// Ctx returns a context that ends after d or when the test ends.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Collector reads a subscription's events on its own goroutine.
type Collector struct {
	mu     sync.Mutex
	events []kalam.Event
	err    error
	done   chan struct{}
	notify chan struct{}
}

// Collect starts reading sub's events until they end or ctx does.
func Collect(ctx context.Context, sub *kalam.Subscription) *Collector {
	c := &Collector{done: make(chan struct{}), notify: make(chan struct{}, 1)}
	go func() {
		defer close(c.done)
		for ev, err := range sub.Events(ctx) {
			c.mu.Lock()
			if err != nil {
				c.err = err
			} else {
				c.events = append(c.events, ev)
			}
			c.mu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

// Done is closed when the events have ended.
func (c *Collector) Done() <-chan struct{} { return c.done }

// Err is the error that ended the events (nil before Done, or for a clean
// end).
func (c *Collector) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Snapshot returns the events read so far.
func (c *Collector) Snapshot() []kalam.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]kalam.Event(nil), c.events...)
}

// WaitFor checks cond after every event until it holds, and fails the test
// when the events end or ctx does first.
func (c *Collector) WaitFor(t testing.TB, ctx context.Context, what string, cond func([]kalam.Event) bool) []kalam.Event {
	t.Helper()
	for {
		if evs := c.Snapshot(); cond(evs) {
			return evs
		}
		select {
		case <-c.notify:
		case <-c.done:
			if evs := c.Snapshot(); cond(evs) {
				return evs
			}
			t.Fatalf("subscription ended (%v) before %s; got %s", c.Err(), what, Describe(c.Snapshot()))
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; got %s", what, Describe(c.Snapshot()))
		}
	}
}

// rowsOf returns the rows an event carries for id accounting: the new rows,
// or for a delete the deleted row.
func rowsOf(ev kalam.Event) []kalam.Row {
	switch ev.Kind {
	case kalam.EventSnapshot, kalam.EventInsert, kalam.EventUpdate:
		return ev.Rows
	case kalam.EventDelete:
		return ev.Old
	}
	return nil
}

// Describe renders events compactly: kind(ids…)@position.
func Describe(evs []kalam.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%v(", ev.Kind)
		for _, r := range append(append([]kalam.Row(nil), ev.Rows...), ev.Old...) {
			fmt.Fprintf(&b, "%s,", r.Get("id").String())
		}
		fmt.Fprintf(&b, ")@%d ", ev.Seq)
	}
	return b.String()
}

// IDs lists, in delivery order, the id of every row carried by snapshot,
// insert, update and delete events.
func IDs(evs []kalam.Event) []string {
	var out []string
	for _, ev := range evs {
		for _, r := range rowsOf(ev) {
			out = append(out, r.Get("id").String())
		}
	}
	return out
}

// HasIDs is a condition: every id in want was delivered.
func HasIDs(want ...string) func([]kalam.Event) bool {
	return func(evs []kalam.Event) bool {
		got := map[string]bool{}
		for _, id := range IDs(evs) {
			got[id] = true
		}
		for _, w := range want {
			if !got[w] {
				return false
			}
		}
		return true
	}
}

// CheckOrder fails when delivered _seq values do not strictly increase. An
// update's old values carry the previous version's _seq, so they are not
// counted.
func CheckOrder(t testing.TB, evs []kalam.Event) {
	t.Helper()
	var last wire.SeqID
	for _, ev := range evs {
		rows := ev.Rows
		if ev.Kind == kalam.EventDelete {
			rows = ev.Old
		}
		for _, r := range rows {
			seq, ok := r.Seq()
			if !ok {
				continue
			}
			if seq <= last {
				t.Fatalf("_seq %d delivered after %d: %s", seq, last, Describe(evs))
			}
			last = seq
		}
	}
}

// ExactlyOnce fails unless every id in want was delivered exactly once.
func ExactlyOnce(t testing.TB, evs []kalam.Event, want ...string) {
	t.Helper()
	count := map[string]int{}
	for _, id := range IDs(evs) {
		count[id]++
	}
	for _, w := range want {
		if count[w] != 1 {
			t.Fatalf("row %s delivered %d times: %s", w, count[w], Describe(evs))
		}
	}
}

// States records lifecycle transitions from Config.OnStateChange.
type States struct {
	mu  sync.Mutex
	all []kalam.Transition
	ch  chan kalam.Transition
}

// NewStates returns an empty recorder; pass its Record as OnStateChange.
func NewStates() *States { return &States{ch: make(chan kalam.Transition, 1024)} }

// Record is an OnStateChange callback.
func (s *States) Record(tr kalam.Transition) {
	s.mu.Lock()
	s.all = append(s.all, tr)
	s.mu.Unlock()
	select {
	case s.ch <- tr:
	default:
	}
}

// WaitFor waits for a transition into want, and fails the test when ctx
// ends first.
func (s *States) WaitFor(t testing.TB, ctx context.Context, want kalam.State) {
	t.Helper()
	for {
		select {
		case tr := <-s.ch:
			if tr.To == want {
				return
			}
		case <-ctx.Done():
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("state %v never reached; transitions: %v", want, s.all)
		}
	}
}

// All returns the transitions recorded so far.
func (s *States) All() []kalam.Transition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]kalam.Transition(nil), s.all...)
}
