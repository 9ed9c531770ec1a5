// Package demo runs kalam's lifecycle demo for someone who has never seen
// KalamDB: one client taken through its whole life against an embedded
// KalamDB-compatible server, each step announced with what it shows, every
// change printed with its old and new values, and a closing summary whose
// claims are checked rather than assumed.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	// DiagramPath, when set, is where the lifecycle diagram (Mermaid) is
	// written. Empty means nothing is written to disk.
	DiagramPath string
	// TokenTTL is the access token lifetime; short so a refresh happens
	// while live. Zero means 3 s.
	TokenTTL time.Duration
}

const password = "Demo-Alice-Pass-1"

// demo is one run: the server, the proxy that can cut the network, the
// client, and what the subscription delivered.
type demo struct {
	ctx   context.Context
	p     *printer
	srv   *kalamtest.Server
	proxy *faultproxy.Proxy
	c     *kalam.Client
	seen  *tally

	mu                  sync.Mutex
	refreshes, connects int
}

// Run runs the demo, printing to w. It returns an error when any claim of
// the summary does not hold.
func Run(ctx context.Context, w io.Writer, opts Options) error {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 3 * time.Second
	}
	d := &demo{ctx: ctx, p: &printer{w: w, start: time.Now()}, seen: &tally{ids: map[string]int{}}}
	if err := d.setUp(opts.TokenTTL); err != nil {
		return err
	}
	defer d.srv.Close()
	defer d.proxy.Close()
	defer d.c.Close()

	events, err := d.goLive()
	if err != nil {
		return err
	}
	// However Run ends, the reader stops before Run returns: closing the
	// client ends the stream, and the channel is emptied so it never blocks.
	defer func() {
		d.c.Close()
		for range events {
		}
	}()
	steps := []func(<-chan kalam.Event) error{d.changeRows, d.refreshWhileLive, d.cutNetwork, d.drain}
	for _, step := range steps {
		if err := step(events); err != nil {
			return err
		}
	}
	if opts.DiagramPath != "" {
		if err := os.WriteFile(opts.DiagramPath, []byte(fsm.Mermaid()), 0o644); err != nil {
			return fmt.Errorf("demo: writing the diagram: %w", err)
		}
		d.p.para("The lifecycle diagram (Mermaid) was written to %s.", opts.DiagramPath)
	}
	return d.summary()
}

// setUp starts the server, a proxy in front of it, and the client.
func (d *demo) setUp(ttl time.Duration) error {
	p := d.p
	p.title("kalam demo: one client's whole life against a KalamDB-compatible server")
	srv, err := kalamtest.Start(kalamtest.Config{
		AccessTokenTTL: ttl,
		Leeway:         -1,
		Users:          []kalamtest.User{{Name: "alice", Password: password, Role: "user"}},
	})
	if err != nil {
		return err
	}
	d.srv = srv
	for _, sql := range []string{"CREATE NAMESPACE shop", "CREATE USER TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT, status TEXT)"} {
		if _, err := srv.Exec(d.ctx, "root", sql); err != nil {
			return err
		}
	}
	if d.proxy, err = faultproxy.New(srv.Addr()); err != nil {
		return err
	}
	p.para("A server is running at %s (kalamtest: KalamDB's HTTP and WebSocket API on SQLite, in memory).", srv.URL)
	p.para("It holds a table shop.orders (id, item, status). Its login tokens last only %s, so you will see one renewed while data streams.", ttl)
	p.para("The client talks to it through a small proxy, so that the demo can cut the network later.")
	c, err := kalam.New(kalam.Config{
		URL:           "http://" + d.proxy.Addr(),
		Auth:          auth.Basic("alice", password),
		BackoffMin:    100 * time.Millisecond,
		BackoffMax:    time.Second,
		PingInterval:  time.Second,
		OnStateChange: d.onState,
		OnConnection:  d.onConnection,
	})
	if err != nil {
		return err
	}
	d.c = c
	return nil
}

// onState prints each lifecycle step with a plain explanation.
func (d *demo) onState(tr kalam.Transition) {
	if tr.From == tr.To {
		if tr.Trigger == fsm.TriggerCredentials {
			d.mu.Lock()
			d.refreshes++
			d.mu.Unlock()
			d.p.event("lifecycle: still %s; new token in hand, the socket was not touched", tr.To)
		}
		return
	}
	d.p.event("lifecycle: %s → %s  (%s)", tr.From, tr.To, explain(tr.Trigger))
}

func (d *demo) onConnection(ev kalam.ConnectionEvent) {
	if ev.Connected {
		d.mu.Lock()
		d.connects++
		d.mu.Unlock()
		d.p.event("socket open, and the server accepted the token")
		return
	}
	what := "the client will not reconnect"
	if ev.Recoverable {
		what = "the client will retry with growing pauses"
	}
	d.p.event("socket closed (WebSocket code %d%s); %s", ev.Code, reasonText(ev.Reason), what)
}

// explain says in words what a trigger means.
func explain(t fsm.Trigger) string {
	switch t {
	case fsm.TriggerCredentials:
		return "logged in: a token was received"
	case fsm.TriggerConnect:
		return "opening the WebSocket"
	case fsm.TriggerAuthOK:
		return "the server accepted the token on the socket"
	case fsm.TriggerSubscribe:
		return "a live query was registered"
	case fsm.TriggerSocketLost:
		return "the connection was lost"
	case fsm.TriggerRetry:
		return "the pause is over: trying again"
	case fsm.TriggerDrain:
		return "graceful shutdown asked for"
	case fsm.TriggerDrained:
		return "everything in flight has finished"
	case fsm.TriggerClose:
		return "closed"
	}
	return t.String()
}

func reasonText(r string) string {
	if r == "" {
		return ""
	}
	return ", \"" + r + "\""
}

// summary checks the claims and prints the closing lines.
func (d *demo) summary() error {
	dups := d.seen.duplicates()
	d.mu.Lock()
	defer d.mu.Unlock()
	if dups != 0 || d.refreshes == 0 || d.connects < 2 || d.c.State() != kalam.StateClosed {
		return fmt.Errorf("demo: the claims do not hold: duplicates=%d refreshes=%d connects=%d state=%v", dups, d.refreshes, d.connects, d.c.State())
	}
	d.p.title("Summary")
	d.p.para("The subscription delivered %d row changes: none lost, none twice, each newer than the one before.", d.seen.count())
	d.p.para("The token was renewed %d time(s) while live, and the client reconnected %d time(s), resuming where it stopped.", d.refreshes, d.connects-1)
	fmt.Fprintf(d.p.w, "\ndemo OK: every claim above was checked (%s).\n", time.Since(d.p.start).Round(10*time.Millisecond))
	return nil
}

// waitFor reads events until cond holds.
func (d *demo) waitFor(events <-chan kalam.Event, what string, cond func() bool) error {
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case _, ok := <-events:
			if !ok {
				return fmt.Errorf("demo: the subscription ended while waiting for %s", what)
			}
		case <-deadline:
			return fmt.Errorf("demo: timed out waiting for %s", what)
		case <-d.ctx.Done():
			return d.ctx.Err()
		}
	}
	return nil
}

// write runs SQL as another session of alice's, as an application would.
func (d *demo) write(sql string) error {
	if _, err := d.srv.Exec(d.ctx, "alice", sql); err != nil {
		return fmt.Errorf("demo: writer: %s: %w", sql, err)
	}
	d.p.event("another session writes: %s", sql)
	return nil
}

var errNoRefusal = errors.New("demo: a live query without a namespace was accepted")
