//go:build !js

package kalam_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/internal/e2etest"
	"github.com/kalamgo/kalam/kalamtest"
)

const workerPassword = "Worker-Secret-Pass-1"

// newTopicEnv is newEnv with a service user "worker" and the topic
// app.feed fed by inserts into app.orders.
func newTopicEnv(t *testing.T, cfg kalamtest.Config) *env {
	t.Helper()
	cfg.Users = append(cfg.Users, kalamtest.User{Name: "worker", Password: workerPassword, Role: "service"})
	e := newEnv(t, cfg, false)
	e.root("CREATE TOPIC app.feed")
	e.root("ALTER TOPIC app.feed ADD SOURCE app.orders ON INSERT")
	return e
}

func (e *env) worker(mod func(*kalam.Config)) *kalam.Client {
	return e.client(func(c *kalam.Config) {
		c.Auth = auth.Basic("worker", workerPassword)
		if mod != nil {
			mod(c)
		}
	})
}

func (e *env) insert(from, n int) {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("INSERT INTO app.orders (id, status) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d, 'open')", from+i)
	}
	e.write(b.String())
}

// take iterates k until n messages came, returning their offsets.
func take(t *testing.T, ctx context.Context, k *kalam.Consumer, n int, process bool) []uint64 {
	t.Helper()
	var got []uint64
	if n == 0 {
		return nil
	}
	for m, err := range k.Messages(ctx) {
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, m.Offset)
		if process {
			if err := k.MarkProcessed(m.Offset); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) == n {
			break
		}
	}
	if len(got) != n {
		t.Fatalf("iteration ended after %v, want %d messages", got, n)
	}
	return got
}

func wantRange(t *testing.T, got []uint64, from uint64) {
	t.Helper()
	for i, o := range got {
		if o != from+uint64(i) {
			t.Fatalf("offsets %v, want consecutive from %d", got, from)
		}
	}
}

func fastOpts(group string) kalam.ConsumerOptions {
	return kalam.ConsumerOptions{Group: group, Start: kalam.StartEarliest, IdleWait: 10 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}
}

func TestConsumerConsumeProcessCommit(t *testing.T) {
	e := newTopicEnv(t, kalamtest.Config{})
	c := e.worker(nil)
	ctx := e2etest.Ctx(t, 10*time.Second)
	e.insert(1, 5)

	k, err := c.Consumer("app.feed", fastOpts("g"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var rows []string
	for m, err := range k.Messages(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		row, err := m.Row()
		if err != nil {
			t.Fatal(err)
		}
		if m.Op != "Insert" || m.User != "alice" || m.Topic != "app.feed" || m.Timestamp.IsZero() {
			t.Fatalf("message %+v", m)
		}
		rows = append(rows, row.Get("id").String()+"/"+row.Get("_table").String())
		if err := k.MarkProcessed(m.Offset); err != nil {
			t.Fatal(err)
		}
		if len(rows) == 5 {
			break
		}
	}
	if rows[0] != "1/app.orders" || rows[4] != "5/app.orders" {
		t.Fatalf("rows %v", rows)
	}
	if err := k.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if off, ok := k.Committed(); !ok || off != 4 {
		t.Fatalf("committed %d %v, want 4", off, ok)
	}
	if pos, ok := k.Position(); !ok || pos != 5 {
		t.Fatalf("position %d %v", pos, ok)
	}
	// The server agrees: the group resumes after 4.
	res, err := c.Query(ctx, "CONSUME FROM app.feed GROUP 'g'")
	if err != nil || len(res.Statements[0].Rows) != 0 {
		t.Fatalf("server side after commit: %v %v", res, err)
	}
	if err := k.MarkProcessed(3); !errors.Is(err, kalam.ErrNotDelivered) {
		t.Fatalf("MarkProcessed of a committed offset = %v", err)
	}
}

// A commit covers only what was marked processed, and only its contiguous
// prefix; what was not committed comes again to the next member of the
// group, and what was committed never does.
func TestConsumerAtLeastOnceAcrossClose(t *testing.T) {
	e := newTopicEnv(t, kalamtest.Config{})
	e.srv.SetTopicVisibility(100 * time.Millisecond)
	c := e.worker(nil)
	ctx := e2etest.Ctx(t, 10*time.Second)
	e.insert(1, 6)

	k1, err := c.Consumer("app.feed", fastOpts("g"))
	if err != nil {
		t.Fatal(err)
	}
	got := take(t, ctx, k1, 6, false)
	wantRange(t, got, 0)
	for _, off := range []uint64{0, 1, 3} { // 2 is not processed
		if err := k1.MarkProcessed(off); err != nil {
			t.Fatal(err)
		}
	}
	if err := k1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if off, _ := k1.Committed(); off != 1 {
		t.Fatalf("committed %d, want 1 (2 is not processed)", off)
	}
	if err := k1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k1.Close(); !errors.Is(err, kalam.ErrConsumerClosed) {
		t.Fatalf("second Close = %v", err)
	}

	k2, err := c.Consumer("app.feed", fastOpts("g"))
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	got = take(t, ctx, k2, 4, true) // after the claim expires: 2..5 again, never 0 or 1
	wantRange(t, got, 2)
	if err := k2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if off, _ := k2.Committed(); off != 5 {
		t.Fatalf("committed %d, want 5", off)
	}
}

func TestConsumerOptions(t *testing.T) {
	e := newTopicEnv(t, kalamtest.Config{})
	e.root("CREATE TOPIC app.parts PARTITIONS 4")
	e.root("ALTER TOPIC app.parts ADD SOURCE app.orders ON INSERT WITH (payload = 'key')")
	c := e.worker(nil)
	ctx := e2etest.Ctx(t, 15*time.Second)
	e.insert(1, 3)

	t.Run("latest", func(t *testing.T) {
		o := fastOpts("latest")
		o.Start = kalam.StartLatest
		k, _ := c.Consumer("app.feed", o)
		defer k.Close()
		done := make(chan []uint64)
		go func() {
			var got []uint64
			for m, err := range k.Messages(ctx) {
				if err != nil {
					break
				}
				got = append(got, m.Offset)
				break
			}
			done <- got
		}()
		// The first poll pins the tail (3); only what comes after is read.
		for {
			if pos, ok := k.Position(); ok && pos == 3 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("the first poll never placed the consumer at the tail")
			case <-time.After(5 * time.Millisecond):
			}
		}
		e.insert(100, 1)
		if got := <-done; len(got) != 1 || got[0] != 3 {
			t.Fatalf("latest read %v, want [3]", got)
		}
	})
	t.Run("offset", func(t *testing.T) {
		o := fastOpts("at1")
		o.Start = kalam.StartAt(1)
		k, _ := c.Consumer("app.feed", o)
		defer k.Close()
		wantRange(t, take(t, ctx, k, 2, false), 1)
	})
	t.Run("max records", func(t *testing.T) {
		o := fastOpts("small")
		o.MaxRecords = 1
		k, _ := c.Consumer("app.feed", o)
		defer k.Close()
		wantRange(t, take(t, ctx, k, 3, false), 0)
	})
	t.Run("seek", func(t *testing.T) {
		o := fastOpts("seek")
		k, _ := c.Consumer("app.feed", o)
		defer k.Close()
		if err := k.Seek(2); err != nil {
			t.Fatal(err)
		}
		wantRange(t, take(t, ctx, k, 1, true), 2)
		if err := k.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := k.Seek(1); err == nil {
			t.Fatal("seek below the commit succeeded")
		}
	})
	t.Run("partition", func(t *testing.T) {
		seen := 0
		for p := range uint32(4) {
			o := fastOpts("parts")
			o.Partition = p
			k, _ := c.Consumer("app.parts", o)
			res, err := c.Query(ctx, fmt.Sprintf("CONSUME FROM app.parts GROUP 'peek%d' PARTITION %d FROM EARLIEST", p, p))
			if err != nil {
				t.Fatal(err)
			}
			n := len(res.Statements[0].Rows)
			if n > 0 {
				take(t, ctx, k, n, false)
			}
			seen += n
			k.Close()
		}
		if seen != 4 { // the three rows, and the one "latest" added
			t.Fatalf("partitions held %d messages, want 4", seen)
		}
	})
	t.Run("auto commit", func(t *testing.T) {
		o := fastOpts("auto")
		o.AutoCommit = true
		o.AutoCommitInterval = 20 * time.Millisecond
		k, _ := c.Consumer("app.feed", o)
		defer k.Close()
		take(t, ctx, k, 2, true)
		for {
			if off, ok := k.Committed(); ok && off == 1 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("background commit never came")
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	t.Run("bad options", func(t *testing.T) {
		if _, err := c.Consumer("app.feed", kalam.ConsumerOptions{}); err == nil {
			t.Fatal("no group accepted")
		}
		if _, err := c.Consumer("", kalam.ConsumerOptions{Group: "g"}); err == nil {
			t.Fatal("empty topic accepted")
		}
		if _, err := c.Consumer("app.feed", kalam.ConsumerOptions{Group: "g", MaxRecords: -1}); err == nil {
			t.Fatal("negative MaxRecords accepted")
		}
		if _, err := c.Consumer("app.feed", kalam.ConsumerOptions{Group: "g", MaxRecords: 1 << 40}); err == nil {
			t.Fatal("MaxRecords beyond a page accepted")
		}
	})
}

func TestConsumerErrors(t *testing.T) {
	e := newTopicEnv(t, kalamtest.Config{})
	ctx := e2etest.Ctx(t, 10*time.Second)
	endsWith := func(k *kalam.Consumer, status int, code string) {
		t.Helper()
		for _, err := range k.Messages(ctx) {
			var ce *kalam.ConsumerError
			var qe *kalam.QueryError
			if !errors.As(err, &ce) || !errors.As(err, &qe) || qe.Status != status || qe.Code != code || ce.Attempts != 1 {
				t.Fatalf("err = %v, want a ConsumerError of %d %s after one attempt", err, status, code)
			}
			return
		}
		t.Fatal("iteration ended without an error")
	}
	alice := e.client(nil) // role user
	k, _ := alice.Consumer("app.feed", fastOpts("g"))
	endsWith(k, http.StatusForbidden, "FORBIDDEN")

	w := e.worker(nil)
	k, _ = w.Consumer("app.nope", fastOpts("g"))
	endsWith(k, http.StatusNotFound, "NOT_FOUND")

	// An expired token refreshes and the poll is retried once, unseen.
	e.insert(1, 1)
	k, _ = w.Consumer("app.feed", fastOpts("g"))
	e.srv.ExpireTopicTokens(1)
	wantRange(t, take(t, ctx, k, 1, true), 0)
	// A failed commit is retried; nothing is delivered again.
	e.srv.FailTopicCommits(2, false)
	if err := k.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if off, _ := k.Committed(); off != 0 {
		t.Fatalf("committed %d", off)
	}
	// One that keeps failing ends with a typed error and commits nothing.
	e.insert(2, 1)
	take(t, ctx, k, 1, true)
	e.srv.FailTopicCommits(100, false)
	err := k.Commit(ctx)
	var ce *kalam.ConsumerError
	if !errors.As(err, &ce) || ce.Op != "commit" || ce.Attempts != 8 {
		t.Fatalf("commit against a failing server = %v", err)
	}
	if off, _ := k.Committed(); off != 0 {
		t.Fatalf("committed %d after failures", off)
	}
	e.srv.FailTopicCommits(0, false)
	if err := k.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if off, _ := k.Committed(); off != 1 {
		t.Fatalf("committed %d after recovery", off)
	}
	k.Close()

	// A closed client ends the iteration with ErrClosed.
	k, _ = w.Consumer("app.feed", fastOpts("h"))
	w.Close()
	for _, err := range k.Messages(ctx) {
		if !errors.Is(err, kalam.ErrClosed) {
			t.Fatalf("after client Close: %v", err)
		}
		break
	}
	if _, err := w.Consumer("app.feed", fastOpts("h")); !errors.Is(err, kalam.ErrClosed) {
		t.Fatalf("Consumer on a closed client = %v", err)
	}
}

func TestConsumerDrainCommitsProcessed(t *testing.T) {
	e := newTopicEnv(t, kalamtest.Config{})
	c := e.worker(nil)
	ctx := e2etest.Ctx(t, 10*time.Second)
	e.insert(1, 4)
	k, _ := c.Consumer("app.feed", fastOpts("g"))
	take(t, ctx, k, 4, false)
	k.MarkProcessed(0)
	k.MarkProcessed(1)
	o, err := k.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Committed != 2 || !o.HasOffset || o.Offset != 1 || o.Unprocessed != 2 {
		t.Fatalf("outcome %+v", o)
	}
	for _, err := range k.Messages(ctx) {
		t.Fatalf("a drained consumer yielded (%v)", err)
	}

	// The client's Drain drains its consumers first, committing what they
	// processed while requests are still accepted.
	e.insert(10, 2)
	k2, _ := c.Consumer("app.feed", fastOpts("g2"))
	take(t, ctx, k2, 6, true)
	if _, err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if off, ok := k2.Committed(); !ok || off != 5 {
		t.Fatalf("after the client's drain: committed %d %v, want 5", off, ok)
	}
	if err := k2.Close(); !errors.Is(err, kalam.ErrConsumerClosed) {
		t.Fatalf("Close after the drain = %v", err)
	}
}

// A poll slower than PollTimeout is abandoned and retried; when every
// attempt times out the consumer ends with a *ConsumerError, and once the
// server is fast again a new iteration delivers what was there.
func TestConsumerPollTimeout(t *testing.T) {
	e := newTopicEnv(t, kalamtest.Config{})
	c := e.worker(nil)
	ctx := e2etest.Ctx(t, 10*time.Second)
	e.insert(1, 2)
	if _, err := c.Query(ctx, "SELECT 1"); err != nil { // credentials first: the slow call is the poll
		t.Fatal(err)
	}
	o := fastOpts("g")
	o.PollTimeout, o.MaxAttempts = 100*time.Millisecond, 2
	k, _ := c.Consumer("app.feed", o)
	defer k.Close()
	e.srv.SlowTopicPolls(2 * time.Second)
	for _, err := range k.Messages(ctx) {
		var ce *kalam.ConsumerError
		if !errors.As(err, &ce) || ce.Op != "poll" || ce.Attempts != 2 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("slow polls: %v", err)
		}
		break
	}
	e.srv.SlowTopicPolls(0)
	wantRange(t, take(t, ctx, k, 2, false), 0)
}

// Close abandons a poll in flight: the iteration ends at once, without an
// error, instead of waiting for the answer.
func TestConsumerCloseAbandonsSlowPoll(t *testing.T) {
	e := newTopicEnv(t, kalamtest.Config{})
	c := e.worker(nil)
	ctx := e2etest.Ctx(t, 10*time.Second)
	if _, err := c.Query(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	e.srv.SlowTopicPolls(20 * time.Second)
	k, _ := c.Consumer("app.feed", fastOpts("g"))
	done := make(chan error, 1)
	go func() {
		for _, err := range k.Messages(ctx) {
			done <- err
			return
		}
		done <- nil
	}()
	for e.srv.SlowPollsHeld() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the poll never reached the server")
		case <-time.After(2 * time.Millisecond):
		}
	}
	start := time.Now()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("iteration ended with %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the iteration waited for the slow poll")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Close took %v to end the iteration", el)
	}
	e.srv.SlowTopicPolls(0)
}
