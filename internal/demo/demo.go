// Package demo runs kalam's lifecycle demo: one client taken through its
// whole life against an embedded kalamtest server, every transition printed
// with its trigger, and a closing line that states what was proved, checked
// rather than assumed.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/kalamtest/faultproxy"
)

// Options tune the demo.
type Options struct {
	// DiagramPath is where the lifecycle diagram (Mermaid) is written.
	// Empty means kalam-lifecycle.mmd in the system's temp directory.
	DiagramPath string
	// TokenTTL is the access token lifetime; short so a refresh happens
	// while live. Zero means 3 s.
	TokenTTL time.Duration
}

const password = "Demo-Alice-Pass-1"

// Run runs the demo, printing to w. It returns an error when any claim of
// the summary does not hold.
func Run(ctx context.Context, w io.Writer, opts Options) error {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 3 * time.Second
	}
	start := time.Now()
	p := &printer{w: w, start: start}

	srv, err := kalamtest.Start(kalamtest.Config{
		AccessTokenTTL: opts.TokenTTL,
		Leeway:         -1,
		Users:          []kalamtest.User{{Name: "alice", Password: password, Role: "user"}},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	p.say("kalamtest listening on %s (SQLite in memory, access tokens live %s)", srv.URL, opts.TokenTTL)
	for _, sql := range []string{"CREATE NAMESPACE shop", "CREATE USER TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT, status TEXT)"} {
		if _, err := srv.Exec(ctx, "root", sql); err != nil {
			return err
		}
	}
	proxy, err := faultproxy.New(srv.Addr())
	if err != nil {
		return err
	}
	defer proxy.Close()
	write := func(sql string) error {
		if _, err := srv.Exec(ctx, "alice", sql); err != nil {
			return fmt.Errorf("demo: writer: %s: %w", sql, err)
		}
		p.say("writer: %s", sql)
		return nil
	}

	var mu sync.Mutex
	refreshes, connects := 0, 0
	c, err := kalam.New(kalam.Config{
		URL:          "http://" + proxy.Addr(),
		Auth:         auth.Basic("alice", password),
		BackoffMin:   100 * time.Millisecond,
		BackoffMax:   time.Second,
		PingInterval: time.Second,
		OnStateChange: func(tr kalam.Transition) {
			if tr.From == tr.To {
				if tr.Trigger == fsm.TriggerCredentials {
					mu.Lock()
					refreshes++
					mu.Unlock()
					p.say("%-10s ⟳ %-10s (%s: token refreshed, socket untouched)", tr.From, tr.To, tr.Trigger)
				}
				return
			}
			p.say("%-10s → %-10s (%s)", tr.From, tr.To, tr.Trigger)
		},
		OnConnection: func(ev kalam.ConnectionEvent) {
			if ev.Connected {
				mu.Lock()
				connects++
				mu.Unlock()
				p.say("socket open and authenticated")
				return
			}
			reason := ""
			if ev.Reason != "" {
				reason = " " + ev.Reason
			}
			p.say("socket lost (close %d%s); reconnecting: %t", ev.Code, reason, ev.Recoverable)
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()

	// 1. Live before a namespace is set: refused by the guard, nothing sent.
	if _, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{}); err != nil {
		p.say("Live without a namespace → refused before the wire: %v", err)
		if !errors.Is(err, kalam.ErrNoNamespace) {
			return fmt.Errorf("demo: expected ErrNoNamespace, got %w", err)
		}
	} else {
		return errors.New("demo: Live without a namespace was accepted")
	}
	if err := c.SetNamespace("shop"); err != nil {
		return err
	}
	p.say("namespace set to shop")

	// 2. Go live and watch changes while a writer works.
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{BatchSize: 2})
	if err != nil {
		return err
	}
	seen := &tally{ids: map[string]int{}}
	events := make(chan kalam.Event, 64)
	go func() {
		defer close(events)
		for ev, err := range sub.Events(ctx) {
			if err != nil {
				p.say("subscription ended: %v", err)
				return
			}
			seen.add(ev)
			p.event(ev)
			events <- ev
		}
	}()
	// However Run ends, the reader stops before Run returns: closing the
	// client ends the stream, and the channel is emptied so it never blocks.
	defer func() {
		c.Close()
		for range events {
		}
	}()
	waitFor := func(what string, cond func() bool) error {
		deadline := time.After(10 * time.Second)
		for !cond() {
			select {
			case _, ok := <-events:
				if !ok {
					return fmt.Errorf("demo: subscription ended while waiting for %s", what)
				}
			case <-deadline:
				return fmt.Errorf("demo: timed out waiting for %s", what)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	if err := waitFor("the initial snapshot", seen.ready); err != nil {
		return err
	}
	if err := write("INSERT INTO shop.orders (id, item, status) VALUES (1, 'tea', 'open'), (2, 'cake', 'open')"); err != nil {
		return err
	}
	if err := write("UPDATE shop.orders SET status = 'paid' WHERE id = 1"); err != nil {
		return err
	}
	if err := write("DELETE FROM shop.orders WHERE id = 2"); err != nil {
		return err
	}
	if err := waitFor("insert, update and delete", func() bool { return seen.count() >= 4 }); err != nil {
		return err
	}

	// 3. Keep streaming across a token refresh.
	p.say("waiting for the token to come due (it lives %s)…", opts.TokenTTL)
	for i := 3; ; i++ {
		mu.Lock()
		r := refreshes
		mu.Unlock()
		if r > 0 {
			break
		}
		n := seen.count() // before the write: the event may beat write's return
		if err := write(fmt.Sprintf("INSERT INTO shop.orders (id, item, status) VALUES (%d, 'scone', 'open')", i)); err != nil {
			return err
		}
		if err := waitFor("the row", func() bool { return seen.count() > n }); err != nil {
			return err
		}
		if time.Since(start) > 20*time.Second {
			return errors.New("demo: no refresh happened")
		}
		time.Sleep(400 * time.Millisecond)
	}

	// 4. Cut the socket; write while it is down; it resumes with nothing lost.
	before, _ := sub.Position()
	p.say("cutting the network (proxy down); last delivered _seq %d", before)
	proxy.Down()
	for i := 100; i < 103; i++ {
		if err := write(fmt.Sprintf("INSERT INTO shop.orders (id, item, status) VALUES (%d, 'bun', 'open')", i)); err != nil {
			return err
		}
	}
	time.Sleep(300 * time.Millisecond)
	p.say("network back (proxy up)")
	proxy.Up()
	if err := waitFor("the rows written during the outage", func() bool { return seen.has("100", "101", "102") }); err != nil {
		return err
	}

	// 5. Drain and close.
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := c.Drain(dctx)
	if err != nil {
		return err
	}
	p.say("drained: %+v", out)
	for range events {
	}

	path := opts.DiagramPath
	if path == "" {
		path = filepath.Join(os.TempDir(), "kalam-lifecycle.mmd")
	}
	if err := os.WriteFile(path, []byte(fsm.Mermaid()), 0o644); err != nil {
		return err
	}
	p.say("lifecycle diagram written to %s", path)

	dups := seen.duplicates()
	mu.Lock()
	defer mu.Unlock()
	if dups != 0 || refreshes == 0 || connects < 2 || c.State() != kalam.StateClosed {
		return fmt.Errorf("demo: claims do not hold: duplicates=%d refreshes=%d connects=%d state=%v", dups, refreshes, connects, c.State())
	}
	fmt.Fprintf(w, "\ndemo OK in %s: login → live → %d token refresh(es) while live → socket cut and resumed (%d reconnect) → drained; %d row events, 0 lost, 0 duplicated, _seq strictly increasing\n",
		time.Since(start).Round(time.Millisecond), refreshes, connects-1, seen.count())
	return nil
}

type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%6.2fs  %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

func (p *printer) event(ev kalam.Event) {
	var ids []string
	for _, r := range append(append([]kalam.Row(nil), ev.Rows...), ev.Old...) {
		ids = append(ids, r.Get("id").String()+":"+r.Get("status").String())
	}
	extra := ""
	switch ev.Kind {
	case kalam.EventSnapshot:
		extra = fmt.Sprintf(" batch %d last=%t", ev.Batch, ev.Last)
	case kalam.EventResumed:
		extra = fmt.Sprintf(" after _seq %d, continuity %s", ev.From, ev.Continuity)
	}
	p.say("  live %-10s [%s]%s  _seq %d", ev.Kind, strings.Join(ids, " "), extra, ev.Seq)
}

// tally checks what the subscription delivered: every row version once,
// _seq strictly increasing.
type tally struct {
	mu      sync.Mutex
	ids     map[string]int
	seqs    map[int64]int
	events  int
	last    int64
	isReady bool
	bad     int
}

func (t *tally) add(ev kalam.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seqs == nil {
		t.seqs = map[int64]int{}
	}
	if ev.Kind == kalam.EventSnapshot && ev.Last {
		t.isReady = true
	}
	rows := ev.Rows // an update's old values carry the previous version's _seq
	if ev.Kind == kalam.EventDelete {
		rows = ev.Old
	}
	for _, r := range rows {
		t.events++
		t.ids[r.Get("id").String()]++
		if s, ok := r.Seq(); ok {
			if int64(s) <= t.last {
				t.bad++
			}
			t.last = int64(s)
			t.seqs[int64(s)]++
		}
	}
}

func (t *tally) ready() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.isReady }
func (t *tally) count() int  { t.mu.Lock(); defer t.mu.Unlock(); return t.events }

func (t *tally) has(ids ...string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if t.ids[id] == 0 {
			return false
		}
	}
	return true
}

func (t *tally) duplicates() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.bad
	for _, n := range t.seqs {
		if n > 1 {
			d += n - 1
		}
	}
	return d
}
