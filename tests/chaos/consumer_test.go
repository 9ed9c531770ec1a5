package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/kalamtest/faultproxy"
)

// Topic consumer scenarios 41–44 (RELIABILITY.md): a service user reads
// app.feed through the fault proxy.

const workerPassword = "Chaos-Worker-Pass-1"

func TestChaosConsumer(t *testing.T) {
	t.Run("S41_FragmentedWrites", s41)
	t.Run("S42_BandwidthCollapseDuringPoll", s42)
	t.Run("S43_CutDuringCommit", s43)
	t.Run("S44_TokenExpiryRestartDrain", s44)
}

func topicWorld(t *testing.T, cfg kalamtest.Config) *world {
	cfg.Users = append(cfg.Users, kalamtest.User{Name: "worker", Password: workerPassword, Role: "service"})
	w := newWorld(t, drivers[0], cfg)
	w.table("orders")
	w.root("CREATE TOPIC app.feed")
	return w
}

func (w *world) worker(mod func(*kalam.Config)) *kalam.Client {
	c, _ := w.client(func(c *kalam.Config) {
		c.Auth = auth.Basic("worker", workerPassword)
		if mod != nil {
			mod(c)
		}
	})
	return c
}

func consumerOpts(group string) kalam.ConsumerOptions {
	return kalam.ConsumerOptions{Group: group, Start: kalam.StartEarliest, IdleWait: 10 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, MaxAttempts: 50}
}

// next reads one message, failing the test on an error or the end.
func next(w *world, ctx context.Context, k *kalam.Consumer) kalam.Message {
	w.t.Helper()
	for m, err := range k.Messages(ctx) {
		if err != nil {
			w.t.Fatalf("consumer: %v", err)
		}
		return m
	}
	w.t.Fatal("consumer iteration ended")
	return kalam.Message{}
}

// nothingFor checks that a fresh member of group reads nothing while it
// polls for d (many polls at IdleWait 10 ms).
func nothingFor(w *world, c *kalam.Client, group string, d time.Duration) {
	w.t.Helper()
	o := consumerOpts(group)
	k, err := c.Consumer("app.feed", o)
	if err != nil {
		w.t.Fatal(err)
	}
	defer k.Close()
	ctx, cancel := context.WithTimeout(w.ctx, d)
	defer cancel()
	for m, err := range k.Messages(ctx) {
		if err == nil {
			w.t.Fatalf("a fresh member of %s got offset %d (%s)", group, m.Offset, m.Op)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			w.t.Fatalf("a fresh member of %s: %v", group, err)
		}
	}
}

// S41: HTTP sliced into 64-byte writes; one row inserted, updated and
// deleted gives exactly one record of each, the commit acknowledges offset
// 2, and a fresh member of the group gets nothing.
func s41(t *testing.T) {
	w := topicWorld(t, kalamtest.Config{})
	for _, op := range []string{"INSERT", "UPDATE", "DELETE"} {
		w.root("ALTER TOPIC app.feed ADD SOURCE app.orders ON " + op)
	}
	w.insert("orders", 1)
	w.exec("UPDATE app.orders SET v = 'changed' WHERE id = 1")
	w.exec("DELETE FROM app.orders WHERE id = 1")
	w.proxy.SetFragment(64)
	c := w.worker(nil)
	k, err := c.Consumer("app.feed", consumerOpts("g"))
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for i := range 3 {
		m := next(w, w.ctx, k)
		if m.Offset != uint64(i) {
			t.Fatalf("record %d has offset %d", i, m.Offset)
		}
		row, err := m.Row()
		if err != nil || row.Get("id").String() != "1" {
			t.Fatalf("record %d: %s (%v)", i, m.Payload, err)
		}
		ops = append(ops, m.Op)
		if err := k.MarkProcessed(m.Offset); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(ops, ",") != "Insert,Update,Delete" {
		t.Fatalf("records %v", ops)
	}
	if err := k.Commit(w.ctx); err != nil {
		t.Fatal(err)
	}
	if off, ok := k.Committed(); !ok || off != 2 {
		t.Fatalf("committed %d %v, want 2", off, ok)
	}
	k.Close()
	nothingFor(w, c, "g", 300*time.Millisecond)
}

// S42: 8 B/s during one poll: it returns no records; once cleared a fresh
// group gets every offset exactly once.
func s42(t *testing.T) {
	w := topicWorld(t, kalamtest.Config{})
	w.root("ALTER TOPIC app.feed ADD SOURCE app.orders ON INSERT")
	w.insert("orders", seq(1, 5)...)
	c := w.worker(nil)
	o := consumerOpts("slow")
	o.PollTimeout, o.MaxAttempts = 500*time.Millisecond, 1
	k, err := c.Consumer("app.feed", o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(w.ctx, "SELECT 1"); err != nil { // credentials in hand: the throttled request is the poll
		t.Fatal(err)
	}
	w.proxy.SetBandwidth(8)
	got := 0
	for _, err := range k.Messages(w.ctx) {
		var ce *kalam.ConsumerError
		if err == nil {
			got++
			continue
		}
		if !errors.As(err, &ce) || ce.Op != "poll" {
			t.Fatalf("throttled poll ended with %v", err)
		}
	}
	if got != 0 {
		t.Fatalf("the throttled poll returned %d records", got)
	}
	k.Close()
	w.restore(w.proxy.Clear)

	k, err = c.Consumer("app.feed", consumerOpts("fresh"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var offs []uint64
	for len(offs) < 5 {
		offs = append(offs, next(w, w.ctx, k).Offset)
	}
	if !slices.Equal(offs, []uint64{0, 1, 2, 3, 4}) {
		t.Fatalf("fresh group read %v", offs)
	}
	ctx, cancel := context.WithTimeout(w.ctx, 300*time.Millisecond)
	defer cancel()
	for m, err := range k.Messages(ctx) {
		if err == nil {
			t.Fatalf("offset %d delivered twice", m.Offset)
		}
	}
}

// S43: the connection is cut as the answer to a commit comes back: the
// commit fails, the retried one succeeds, nothing is delivered again.
func s43(t *testing.T) {
	w := topicWorld(t, kalamtest.Config{})
	w.root("ALTER TOPIC app.feed ADD SOURCE app.orders ON INSERT")
	w.insert("orders", seq(1, 3)...)
	c := w.worker(nil)
	o := consumerOpts("g")
	o.MaxAttempts = 1 // let the first failure surface
	k, err := c.Consumer("app.feed", o)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for range 3 {
		if err := k.MarkProcessed(next(w, w.ctx, k).Offset); err != nil {
			t.Fatal(err)
		}
	}
	var ackConn atomic.Int64
	var cuts atomic.Int32
	w.proxy.SetTap(func(conn int, dir faultproxy.Direction, chunk []byte) (int, bool) {
		if dir == faultproxy.ClientToServer && bytes.Contains(chunk, []byte("/v1/api/topics/ack")) {
			ackConn.CompareAndSwap(0, int64(conn))
		}
		if dir == faultproxy.ServerToClient && int64(conn) == ackConn.Load() && cuts.CompareAndSwap(0, 1) {
			return 0, true // the server applied the ack; its answer is lost
		}
		return len(chunk), false
	})
	err = k.Commit(w.ctx)
	var ce *kalam.ConsumerError
	if !errors.As(err, &ce) || ce.Op != "commit" {
		t.Fatalf("first commit = %v, want a failed commit", err)
	}
	if _, ok := k.Committed(); ok {
		t.Fatal("a failed commit counted as committed")
	}
	w.restore(func() { w.proxy.SetTap(nil) })
	if err := k.Commit(w.ctx); err != nil {
		t.Fatalf("retried commit: %v", err)
	}
	if off, _ := k.Committed(); off != 2 {
		t.Fatalf("committed %d, want 2", off)
	}
	ctx, cancel := context.WithTimeout(w.ctx, 300*time.Millisecond)
	defer cancel()
	for m, err := range k.Messages(ctx) {
		if err == nil {
			t.Fatalf("offset %d delivered again", m.Offset)
		}
	}
	nothingFor(w, c, "g", 300*time.Millisecond)
}

// S44: one consumer across a token expiry, a server restart (same data
// directory and address) and a Drain: no message lost, nothing committed
// that was not processed, nothing delivered after its commit.
func s44(t *testing.T) {
	cfg := kalamtest.Config{DataDir: t.TempDir(), JWTSecret: "chaos-s44-secret-0123456789abcdef", RootPassword: "Chaos-Root-Pass-1"}
	w := topicWorld(t, cfg)
	w.root("ALTER TOPIC app.feed ADD SOURCE app.orders ON INSERT")
	w.insert("orders", seq(1, 10)...)
	c := w.worker(nil)
	o := consumerOpts("g")
	o.MaxRecords = 3
	k, err := c.Consumer("app.feed", o)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	deliveries := map[uint64]int{}
	var violations []string
	processed := map[uint64]bool{}
	done := make(chan error, 1)
	go func() {
		n := 0
		for m, err := range k.Messages(w.ctx) {
			if err != nil {
				done <- err
				return
			}
			mu.Lock()
			if off, ok := k.Committed(); ok && m.Offset <= off {
				violations = append(violations, fmt.Sprintf("offset %d delivered after commit %d", m.Offset, off))
			}
			processed[m.Offset] = true
			if err := k.MarkProcessed(m.Offset); err != nil {
				mu.Unlock()
				done <- err
				return
			}
			deliveries[m.Offset]++ // counted once processed, so the drain below covers it
			mu.Unlock()
			if n++; n%2 == 0 {
				if err := k.Commit(w.ctx); err != nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	delivered := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(deliveries) >= n
		}
	}
	dump := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprint(deliveries)
	}
	w.waitUntil("3 deliveries", delivered(3), dump)
	w.srv.ExpireAccessTokens()
	w.insert("orders", seq(11, 15)...)
	w.waitUntil("8 deliveries", delivered(8), dump)

	addr := w.srv.Addr()
	if err := w.srv.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Addr = addr
	cfg.Users = append(cfg.Users, kalamtest.User{Name: "alice", Password: alicePassword, Role: "user"})
	srv2 := kalamtest.NewServer(t, cfg)
	w.restore(func() { w.srv = srv2 })
	w.insert("orders", seq(16, 20)...)
	w.waitUntil("20 deliveries", delivered(20), dump)

	if _, err := c.Drain(w.ctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("consumer ended with %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Fatalf("deliveries after commit: %v", violations)
	}
	for off := range uint64(20) {
		if deliveries[off] == 0 {
			t.Fatalf("offset %d lost: %v", off, deliveries)
		}
	}
	off, ok := k.Committed()
	if !ok || off != 19 {
		t.Fatalf("committed %d %v after the drain, want 19", off, ok)
	}
	for o := range off + 1 {
		if !processed[o] {
			t.Fatalf("offset %d committed without being processed", o)
		}
	}
	// The server agrees: the group has nothing left.
	res, err := srv2.Exec(context.Background(), "root", "CONSUME FROM app.feed GROUP 'g'")
	if err != nil || res.Results[0].RowCount != 0 {
		t.Fatalf("server-side after the drain: %+v %v", res.Results, err)
	}
}
