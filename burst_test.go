//go:build !js

package kalam_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/e2etest"
	"github.com/kalamgo/kalam/kalamtest"
)

// TestStalledConsumerDoesNotHoldUpTheSocket: a consumer that reads nothing
// while a burst arrives does not hold up the socket, nor pause its
// subscription: the client reads at network speed and the burst waits in
// the subscription's buffer, bounded in bytes. Once the consumer reads,
// every row is there exactly once, in order, without a resume.
//
// The server's outgoing queue is loosened here (KalamDB's 128 drops under
// CPU contention whatever the client does, and the catch-up that repairs
// such drops also reports a resume), and so is the engine's model of it
// (OutgoingQueue -1: no burst check), and the engine's congestion check is
// off (under -race on a loaded machine a lag can pass its threshold, and
// the catch-up it starts is a resume too): this test is about the driver's
// buffer alone, and a resume can only come from its pause.
func TestStalledConsumerDoesNotHoldUpTheSocket(t *testing.T) {
	e := newEnv(t, kalamtest.Config{OutgoingQueue: 1 << 20}, false)
	c := e.client(func(cfg *kalam.Config) { // default buffers
		cfg.Engine = func(fc fsm.Config) (fsm.Stepper, error) {
			fc.LagThreshold, fc.OutgoingQueue = -1, -1
			return fsm.New(fc), nil
		}
	})
	ctx := e2etest.Ctx(t, 60*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{NoSnapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	next, stop := iterPull(sub, ctx)
	defer stop()
	if ev, err := next(); err != nil || ev.Kind != kalam.EventSubscribed {
		t.Fatalf("first event %v, %v", ev.Kind, err)
	}
	// The burst, written while nobody reads the subscription: one change
	// frame per row, as KalamDB sends them; twenty times the old 256-event
	// buffer.
	const rows, per = 5000, 100
	var want []string
	for b := 0; b < rows/per; b++ {
		var sql strings.Builder
		sql.WriteString("INSERT INTO app.orders (id, status) VALUES ")
		for i := range per {
			id := b*per + i + 1
			want = append(want, fmt.Sprint(id))
			if i > 0 {
				sql.WriteString(", ")
			}
			fmt.Fprintf(&sql, "(%d, 'open')", id)
		}
		e.write(sql.String())
	}
	// The server writes every notification to the socket while the
	// consumer still reads nothing: the client is draining it.
	deadline := time.Now().Add(30 * time.Second)
	for e.srv.Stats().NotificationsSent < rows {
		if time.Now().After(deadline) {
			t.Fatalf("the server could write only %d of %d notifications while the consumer stalled", e.srv.Stats().NotificationsSent, rows)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := e.srv.Drops(); d.Changes != 0 {
		t.Fatalf("the server dropped %d changes", d.Changes)
	}
	var evs []kalam.Event
	for n := 0; n < rows; n += len(e2etest.IDs(evs[len(evs)-1:])) {
		ev, err := next()
		if err != nil {
			t.Fatalf("after %d rows: %v", n, err)
		}
		if ev.Kind == kalam.EventResumed {
			t.Fatalf("the subscription paused and resumed (from %s, %s) for a burst that fits its buffer", ev.From, ev.Continuity)
		}
		evs = append(evs, ev)
	}
	e2etest.ExactlyOnce(t, evs, want...)
	e2etest.CheckOrder(t, evs)
}

// iterPull reads a subscription's events one at a time, when the test says.
func iterPull(sub *kalam.Subscription, ctx context.Context) (next func() (kalam.Event, error), stop func()) {
	pull, stop := iter.Pull2(sub.Events(ctx))
	return func() (kalam.Event, error) {
		ev, err, ok := pull()
		if !ok {
			return ev, fmt.Errorf("the subscription ended")
		}
		return ev, err
	}, stop
}

// TestCapRefusalEndsEventsAndLiveRowsWithATypedError: a subscription the
// server refuses for a cap (here the per-user cap, set to one) ends Events
// with an error matching ErrSubscriptionLimit, and a LiveRows view stops
// with the same typed error rather than waiting forever.
func TestCapRefusalEndsEventsAndLiveRowsWithATypedError(t *testing.T) {
	e := newEnv(t, kalamtest.Config{MaxSubscriptionsPerUser: 1}, false)
	c := e.client(nil)
	ctx := e2etest.Ctx(t, 20*time.Second)
	first, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, first)
	col.WaitFor(t, ctx, "the first subscription's ack", func(evs []kalam.Event) bool { return len(evs) > 0 })

	second, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got error
	for _, err := range second.Events(ctx) {
		if err != nil {
			got = err
			break
		}
	}
	if !errors.Is(got, kalam.ErrSubscriptionLimit) {
		t.Fatalf("Events ended with %v, want an error matching ErrSubscriptionLimit", got)
	}

	view, err := c.LiveRows(ctx, "SELECT * FROM orders", kalam.RowsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	err = view.WaitFor(ctx, func([]kalam.Row) bool { return true })
	if !errors.Is(err, kalam.ErrSubscriptionLimit) || !errors.Is(view.Err(), kalam.ErrSubscriptionLimit) {
		t.Fatalf("LiveRows: WaitFor %v, Err %v; want errors matching ErrSubscriptionLimit", err, view.Err())
	}
}

// TestUnrepairableGapIsReportedOnTheStream: a NoSnapshot subscription that
// has delivered no row yet has no position to resume from and no snapshot
// to reload, so a change written during an outage cannot be replayed. The
// resume says so on the stream — continuity broken, Event.Err matching
// ErrGap — and the subscription goes on: a row written afterwards arrives.
func TestUnrepairableGapIsReportedOnTheStream(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, true)
	st := e2etest.NewStates()
	c := e.client(func(cfg *kalam.Config) { cfg.OnStateChange = st.Record })
	ctx := e2etest.Ctx(t, 20*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{NoSnapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, sub)
	col.WaitFor(t, ctx, "the ack", func(evs []kalam.Event) bool { return len(evs) > 0 })
	e.proxy.Down()
	st.WaitFor(t, ctx, kalam.StateBackoff)
	e.write("INSERT INTO app.orders (id, status) VALUES (1, 'open')")
	e.proxy.Up()
	evs := col.WaitFor(t, ctx, "the resume", func(evs []kalam.Event) bool {
		return slices.ContainsFunc(evs, func(ev kalam.Event) bool { return ev.Kind == kalam.EventResumed })
	})
	i := slices.IndexFunc(evs, func(ev kalam.Event) bool { return ev.Kind == kalam.EventResumed })
	ev := evs[i]
	var gap *kalam.GapError
	if ev.Continuity != kalam.ContinuityBroken || !errors.Is(ev.Err, kalam.ErrGap) || !errors.As(ev.Err, &gap) || gap.Subscription != sub.ID() {
		t.Fatalf("resume: continuity %v, err %v; want broken with a *GapError for %s", ev.Continuity, ev.Err, sub.ID())
	}
	e.write("INSERT INTO app.orders (id, status) VALUES (2, 'open')")
	col.WaitFor(t, ctx, "row 2 after the gap", e2etest.HasIDs("2"))
	if err := col.Err(); err != nil {
		t.Fatalf("the subscription ended: %v", err)
	}
}
