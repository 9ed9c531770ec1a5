//go:build !js

package kalam_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/internal/e2etest"
	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/transport/wire"
)

// These tests cover the rest of the public API against kalamtest: the
// lazy socket, explicit Connect and Disconnect, namespaces, subscription
// positions, FreshAuth, LastRows and From, callbacks and Close.

func TestHTTPOnlyWorkerNeverOpensTheSocket(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	e.write("INSERT INTO app.orders (id, status) VALUES (1, 'open'), (2, 'done')")
	c := e.client(nil)
	ctx := e2etest.Ctx(t, 10*time.Second)
	res, err := c.Query(ctx, "SELECT id FROM orders WHERE status = $1", "done")
	if err != nil {
		t.Fatal(err)
	}
	if rows := res.Rows(); len(rows) != 1 || rows[0].Get("id").String() != "2" {
		t.Fatalf("rows %v", rows)
	}
	res, err = c.QueryIn(ctx, "app", "SELECT COUNT(*) AS n FROM orders")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.Rows()[0].Get("n").Int64(); err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}
	if got := c.State(); got != kalam.StateAuthed {
		t.Fatalf("state %v, want Authed", got)
	}
	if n := e.srv.Stats().WSAccepted; n != 0 {
		t.Fatalf("an HTTP-only client opened %d socket(s)", n)
	}
}

func TestConnectAndDisconnectReportConnectionEvents(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	var mu sync.Mutex
	var evs []kalam.ConnectionEvent
	c := e.client(func(cfg *kalam.Config) {
		cfg.OnConnection = func(ev kalam.ConnectionEvent) { mu.Lock(); evs = append(evs, ev); mu.Unlock() }
	})
	ctx := e2etest.Ctx(t, 10*time.Second)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.State(); got != kalam.StateConnected {
		t.Fatalf("after Connect: %v, want Connected", got)
	}
	if err := c.Connect(ctx); err != nil { // already connected: a no-op
		t.Fatalf("second Connect: %v", err)
	}
	if err := c.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.State(); got != kalam.StateAuthed {
		t.Fatalf("after Disconnect: %v, want Authed", got)
	}
	if n := e.srv.Stats().WSAccepted; n != 1 {
		t.Fatalf("%d sockets accepted, want 1", n)
	}
	// Connection events are delivered in order with the state changes, so
	// they may trail Disconnect's return by a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := append([]kalam.ConnectionEvent(nil), evs...)
		mu.Unlock()
		if len(got) == 2 {
			if !got[0].Connected || got[1].Connected || got[1].Recoverable {
				t.Fatalf("events %+v: want connected, then an asked-for disconnect that is not redialed", got)
			}
			break
		}
		if len(got) > 2 || time.Now().After(deadline) {
			t.Fatalf("connection events %+v, want exactly 2", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEagerConnectOpensTheSocketWithCredentials(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	st := e2etest.NewStates()
	e.client(func(cfg *kalam.Config) { cfg.EagerConnect = true; cfg.OnStateChange = st.Record })
	st.WaitFor(t, e2etest.Ctx(t, 10*time.Second), kalam.StateConnected)
}

func TestSetNamespaceEnablesLive(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	c := e.client(func(cfg *kalam.Config) { cfg.Namespace = "" })
	ctx := e2etest.Ctx(t, 10*time.Second)
	if _, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{}); !errors.Is(err, kalam.ErrNoNamespace) {
		t.Fatalf("Live without a namespace: %v, want ErrNoNamespace", err)
	}
	if err := c.SetNamespace("app"); err != nil {
		t.Fatal(err)
	}
	if got := c.Namespace(); got != "app" {
		t.Fatalf("Namespace() = %q", got)
	}
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, sub)
	e.write("INSERT INTO app.orders (id, status) VALUES (5, 'open')")
	col.WaitFor(t, ctx, "row 5", e2etest.HasIDs("5"))
	if err := c.SetNamespace("bad name!"); err == nil {
		t.Fatal("an invalid namespace was accepted")
	}
}

func TestSameSQLTwiceIsTwoSubscriptionsWithPositions(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	c := e.client(nil)
	ctx := e2etest.Ctx(t, 10*time.Second)
	a, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() == b.ID() {
		t.Fatalf("two subscriptions share id %q", a.ID())
	}
	ca, cb := e2etest.Collect(ctx, a), e2etest.Collect(ctx, b)
	e.write("INSERT INTO app.orders (id, status) VALUES (1, 'open')")
	evs := ca.WaitFor(t, ctx, "row 1 on a", e2etest.HasIDs("1"))
	cb.WaitFor(t, ctx, "row 1 on b", e2etest.HasIDs("1"))
	last := evs[len(evs)-1].Seq
	pos, ok := a.Position()
	if !ok || pos != last {
		t.Fatalf("a.Position() = %d,%v; last event at %d", pos, ok, last)
	}
	infos := c.Subscriptions()
	if len(infos) != 2 {
		t.Fatalf("Subscriptions() = %+v", infos)
	}
	for _, in := range infos {
		if in.Phase != "live" || !in.HasPosition || in.Position != last || in.SQL == "" {
			t.Fatalf("subscription info %+v, want live at %d", in, last)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Subscriptions()); n != 1 {
		t.Fatalf("%d subscriptions after closing one", n)
	}
}

func TestFreshAuthAsksTheProviderAgain(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	var calls atomic.Int32
	c := e.client(func(cfg *kalam.Config) {
		cfg.Auth = auth.Dynamic(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
			calls.Add(1)
			access, refresh, err := e.srv.IssueTokens("alice")
			if err != nil {
				return auth.Credentials{}, err
			}
			return auth.FromTokens(access, refresh)
		})
	})
	ctx := e2etest.Ctx(t, 10*time.Second)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	before := calls.Load()
	accepted := e.srv.Stats().WSAccepted
	if err := c.FreshAuth(ctx); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != before+1 {
		t.Fatalf("provider called %d times by FreshAuth, want 1", calls.Load()-before)
	}
	if _, err := c.Query(ctx, "SELECT id FROM orders"); err != nil {
		t.Fatal(err)
	}
	if c.State() != kalam.StateConnected || e.srv.Stats().WSAccepted != accepted {
		t.Fatalf("FreshAuth disturbed the socket: state %v", c.State())
	}
}

func TestLastRowsAndFrom(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	for i := 1; i <= 5; i++ {
		e.write("INSERT INTO app.orders (id, status) VALUES ($1, 'open')", i)
	}
	c := e.client(nil)
	ctx := e2etest.Ctx(t, 10*time.Second)

	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{LastRows: 2, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	evs := e2etest.Collect(ctx, sub).WaitFor(t, ctx, "the snapshot", func(evs []kalam.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Kind == kalam.EventSnapshot && evs[len(evs)-1].Last
	})
	if got := e2etest.IDs(evs); len(got) != 2 || !e2etest.HasIDs("4", "5")(evs) {
		t.Fatalf("LastRows 2 gave %v", got)
	}

	// From the _seq of row 3: only rows 4 and 5 come, each once.
	res, err := c.Query(ctx, "SELECT _seq FROM orders WHERE id = 3")
	if err != nil {
		t.Fatal(err)
	}
	var from wire.SeqID
	if err := res.Rows()[0].Get("_seq").Decode(&from); err != nil {
		t.Fatal(err)
	}
	sub2, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{From: &from})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, sub2)
	evs = col.WaitFor(t, ctx, "rows after From", e2etest.HasIDs("4", "5"))
	e2etest.ExactlyOnce(t, evs, "4", "5")
	for _, id := range e2etest.IDs(evs) {
		if id <= "3" {
			t.Fatalf("row %s at or before From was delivered: %s", id, e2etest.Describe(evs))
		}
	}
	e2etest.CheckOrder(t, evs)
}

func TestCallbacksRunInOrderAndMayCallTheClient(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	var mu sync.Mutex
	var trs []kalam.Transition
	var c *kalam.Client
	ready := make(chan struct{})
	c = e.client(func(cfg *kalam.Config) {
		cfg.OnStateChange = func(tr kalam.Transition) {
			<-ready
			_ = c.State() // calling back into the client must not deadlock
			_ = c.Subscriptions()
			mu.Lock()
			trs = append(trs, tr)
			mu.Unlock()
		}
	})
	close(ready)
	ctx := e2etest.Ctx(t, 10*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e2etest.Collect(ctx, sub).WaitFor(t, ctx, "subscribed", func(evs []kalam.Event) bool { return len(evs) > 0 })
	if _, err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := append([]kalam.Transition(nil), trs...)
		mu.Unlock()
		if n := len(got); n > 0 && got[n-1].To == kalam.StateClosed {
			for i := 1; i < n; i++ {
				if got[i].From != got[i-1].To {
					t.Fatalf("transition %d %v does not follow %v", i, got[i], got[i-1])
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never saw Closed; transitions %v", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseIsFinal(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	c := e.client(nil)
	ctx := e2etest.Ctx(t, 10*time.Second)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); !errors.Is(err, kalam.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed as documented", err)
	}
	if got := c.State(); got != kalam.StateClosed {
		t.Fatalf("state %v after Close", got)
	}
	if _, err := c.Query(ctx, "SELECT 1"); !errors.Is(err, kalam.ErrClosed) {
		t.Fatalf("Query after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{}); !errors.Is(err, kalam.ErrClosed) {
		t.Fatalf("Live after Close: %v, want ErrClosed", err)
	}
}
