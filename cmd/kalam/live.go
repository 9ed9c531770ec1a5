package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/transport/wire"
)

// liveOptions are the flags of "kalam live" (and of \live in the shell).
type liveOptions struct {
	batch, lastRows, limit int
	from                   int64
	noSnapshot, failFast   bool
	connectTimeout, drain  time.Duration
}

// qualifiedFrom finds the namespace of the first qualified table after
// FROM: the client needs a namespace even when every table is qualified.
var qualifiedFrom = regexp.MustCompile(`(?i)\bFROM\s+"?([A-Za-z_][A-Za-z0-9_]*)"?\s*\.`)

var errConnectTimeout = errors.New("no connection within --connect-timeout")

// errGaveUp ends a live query under --fail-fast.
type errGaveUp struct {
	why string
	err error
}

func (e *errGaveUp) Error() string { return "gave up (--fail-fast): " + e.why }
func (e *errGaveUp) Unwrap() error { return e.err }

func (a *app) liveCommand() *cobra.Command {
	var o liveOptions
	cmd := &cobra.Command{
		Use:   "live SQL",
		Short: "subscribe to a live query and print its events as JSON lines",
		Long: `Subscribes to a live query and prints one JSON line per event on standard
output: the initial snapshot in batches, then every insert, update and delete,
across reconnects and token refreshes. _seq, seq and from are strings, so no
reader loses digits. State changes go to standard error, and on a terminal a
single progress line while the snapshot loads. Ctrl-C drains and exits 0.`,
		Example: `  kalam live -n shop "SELECT * FROM orders"
  kalam live --no-snapshot --limit 10 "SELECT * FROM shop.orders WHERE status = 'open'"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("give the live query as one argument (quote it)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			return a.runLive(cmd.Context(), cfg, args[0], o, a.io.out)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.batch, "batch-size", 0, "rows per snapshot batch (default: the server's, 1000)")
	fs.IntVar(&o.lastRows, "last-rows", 0, "limit the snapshot to the newest N rows")
	fs.Int64Var(&o.from, "from", 0, "start after this _seq (resume); 0 means from the start")
	fs.BoolVar(&o.noSnapshot, "no-snapshot", false, "skip the initial snapshot: only changes from now on")
	fs.IntVar(&o.limit, "limit", 0, "exit after N change events (insert, update, delete); 0 means until Ctrl-C")
	fs.DurationVar(&o.drain, "drain-timeout", 5*time.Second, "how long the shutdown drain may take")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 30*time.Second, "give up when the first connection is not up within this time (0: keep trying)")
	fs.BoolVar(&o.failFast, "fail-fast", false, "exit at the first failed connection attempt or lost connection instead of retrying")
	return cmd
}

// giveUpPolicy is the one place the give-up flags reach the client. With
// --fail-fast the client's own give-up policy stops at the first failed
// connection or credential attempt (the waiting calls then end with a
// *kalam.GiveUpError), and a connection lost while live ends the command
// at once instead of being resumed.
func giveUpPolicy(cfg *kalam.Config, failFast bool, stop func(error)) {
	if !failFast {
		return
	}
	cfg.GiveUpAttempts = 1
	prevState := cfg.OnStateChange
	cfg.OnStateChange = func(t kalam.Transition) {
		if prevState != nil {
			prevState(t)
		}
		if t.To == kalam.StateBackoff && (t.From == kalam.StateLive || t.From == kalam.StateConnected) {
			stop(&errGaveUp{why: fmt.Sprintf("connection lost (%s)", t.Trigger), err: t.Reason})
		}
	}
}

// runLive runs one live query until ctx ends, --limit is reached or it
// fails, then drains. Events go to w as JSON lines.
func (a *app) runLive(ctx context.Context, cfg kalam.Config, sql string, o liveOptions, w io.Writer) error {
	prog := &progress{w: a.io.err, mu: &sync.Mutex{}, redraw: a.io.errTerminal}
	say := prog.say
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// closed is closed once the callback has printed the move to Closed,
	// so that line is on stderr before the command's own error or exit.
	closed, closedOnce := make(chan struct{}), sync.Once{}
	cfg.OnStateChange = func(t kalam.Transition) {
		if t.From != t.To {
			say("state: %s", t) // with its reason, attempt and retry delay
		}
		if t.To == kalam.StateClosed {
			closedOnce.Do(func() { close(closed) })
		}
	}
	cfg.OnConnection = func(ev kalam.ConnectionEvent) {
		switch {
		case ev.Connected:
			say("connected to %s", cfg.URL)
		case ev.Recoverable:
			say("connection lost (close %d%s); reconnecting", ev.Code, prefixed(" ", ev.Reason))
		default:
			say("connection closed (close %d%s)", ev.Code, prefixed(" ", ev.Reason))
		}
	}
	var lastErr atomic.Pointer[error]
	cfg.OnError = func(err error, _ bool) { lastErr.Store(&err) }
	giveUpPolicy(&cfg, o.failFast, func(err error) { cancel(err) })
	if cfg.Namespace == "" {
		if m := qualifiedFrom.FindStringSubmatch(sql); m != nil {
			cfg.Namespace = m[1]
		}
	}
	c, err := kalam.New(cfg)
	if err != nil {
		return err
	}
	defer func() {
		c.Close()
		select { // the callbacks run on the client's own goroutine
		case <-closed:
		case <-time.After(2 * time.Second):
		}
	}()
	// With a namespace, wait for the credentials the client is fetching
	// rather than refusing; without one, refuse at once.
	opts := kalam.LiveOptions{BatchSize: o.batch, LastRows: o.lastRows, NoSnapshot: o.noSnapshot, Wait: cfg.Namespace != ""}
	if o.from > 0 {
		pos := wire.SeqID(o.from)
		opts.From = &pos
	}
	if a.io.errTerminal && !o.noSnapshot && opts.From == nil && cfg.Namespace != "" {
		// On a terminal the progress line shows the total: count first,
		// briefly, so the number is there before the first batch.
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		prog.countTotal(cctx, c, sql, o.lastRows)
		ccancel()
	}
	// Live refuses a missing namespace before anything is sent; the
	// connection it starts is then awaited within --connect-timeout.
	sub, err := c.Live(ctx, sql, opts)
	if err != nil {
		return causeOr(ctx, err)
	}
	if err := connectWithin(ctx, c, o.connectTimeout, &lastErr); err != nil {
		return err
	}
	runErr := a.pump(ctx, sub, o, w, prog)
	dctx, dcancel := context.WithTimeout(context.Background(), o.drain)
	defer dcancel()
	if out, err := c.Drain(dctx); err == nil && out.TimedOut {
		say("drain timed out after %s", o.drain)
	}
	return runErr
}

// connectWithin opens the socket, giving up after d (0: no limit).
// The error seen last, if any, says why it failed.
func connectWithin(ctx context.Context, c *kalam.Client, d time.Duration, last *atomic.Pointer[error]) error {
	cctx := ctx
	if d > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	err := c.Connect(cctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return causeOr(ctx, err)
	case errors.Is(err, context.DeadlineExceeded):
		if p := last.Load(); p != nil {
			return fmt.Errorf("%w (%s): %w", errConnectTimeout, d, *p)
		}
		return fmt.Errorf("%w (%s)", errConnectTimeout, d)
	}
	return err
}

// causeOr prefers the reason ctx was canceled with (a --fail-fast give-up).
func causeOr(ctx context.Context, err error) error {
	var g *errGaveUp
	if c := context.Cause(ctx); errors.As(c, &g) {
		return c
	}
	return err
}

// pump copies events to w until the subscription ends.
func (a *app) pump(ctx context.Context, sub *kalam.Subscription, o liveOptions, w io.Writer, prog *progress) error {
	var cols []kalam.Column
	changes := 0
	var line bytes.Buffer
	for ev, err := range sub.Events(ctx) {
		if err != nil {
			prog.clear()
			if errors.Is(err, context.Canceled) {
				if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
					return c
				}
				return nil
			}
			return err
		}
		switch ev.Kind {
		case kalam.EventSubscribed, kalam.EventResumed:
			if len(ev.Columns) > 0 {
				cols = ev.Columns
			}
		case kalam.EventSnapshot:
			prog.batch(len(ev.Rows), ev.Last)
		}
		if ev.Kind == kalam.EventResumed {
			prog.say("resumed after _seq %s (%s)", ev.From, continuityText(ev.Continuity))
		}
		line.Reset()
		eventJSON(&line, ev, cols)
		line.WriteByte('\n')
		if _, err := w.Write(line.Bytes()); err != nil {
			return err
		}
		if ev.Kind == kalam.EventInsert || ev.Kind == kalam.EventUpdate || ev.Kind == kalam.EventDelete {
			changes++
			if o.limit > 0 && changes >= o.limit {
				return nil
			}
		}
	}
	return nil
}

func continuityText(c kalam.Continuity) string {
	switch c {
	case kalam.ContinuityFull:
		return "nothing was missed"
	case kalam.ContinuityNoDeletes:
		return "rows deleted during the outage are not replayed"
	}
	return "continuity " + c.String()
}

// eventJSON writes one event as a JSON object: kind, seq (a string), the
// rows with their keys in column order, and what else the kind carries.
func eventJSON(b *bytes.Buffer, ev kalam.Event, cols []kalam.Column) {
	fmt.Fprintf(b, `{"kind":%q`, ev.Kind.String())
	if ev.Seq != 0 {
		fmt.Fprintf(b, `,"seq":"%d"`, ev.Seq)
	}
	if ev.Kind == kalam.EventSnapshot {
		fmt.Fprintf(b, `,"batch":%d,"last":%t`, ev.Batch, ev.Last)
	}
	if ev.Kind == kalam.EventResumed {
		fmt.Fprintf(b, `,"from":"%d","continuity":%q`, ev.From, ev.Continuity.String())
	}
	if len(ev.Columns) > 0 {
		b.WriteString(`,"columns":[`)
		for i, c := range ev.Columns {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(mustJSON(c.Name))
		}
		b.WriteByte(']')
	}
	writeRows := func(key string, rows []kalam.Row) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(b, `,%q:[`, key)
		for i, r := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			presentRowJSON(b, cols, r)
		}
		b.WriteByte(']')
	}
	writeRows("rows", ev.Rows)
	writeRows("old", ev.Old)
	b.WriteByte('}')
}

// presentRowJSON writes the cells a row has (an update carries only some),
// in column order, then any the columns do not name.
func presentRowJSON(b *bytes.Buffer, cols []kalam.Column, r kalam.Row) {
	b.WriteByte('{')
	n := 0
	put := func(name string, v kalam.Value) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(mustJSON(name))
		b.WriteByte(':')
		b.Write(jsonCell(name, v))
	}
	named := make(map[string]bool, len(cols))
	for _, c := range cols {
		named[c.Name] = true
		if v, ok := r[c.Name]; ok {
			put(c.Name, v)
		}
	}
	for _, k := range sortedNames(r) {
		if !named[k] {
			put(k, r[k])
		}
	}
	b.WriteByte('}')
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// progress reports a loading snapshot: on a terminal one line redrawn in
// place (with the total when a count query could tell it), elsewhere only
// the final count.
type progress struct {
	w      io.Writer
	mu     *sync.Mutex
	redraw bool
	loaded int
	total  int // -1 unknown
	open   bool
	done   bool
}

func (p *progress) countTotal(ctx context.Context, c *kalam.Client, sql string, lastRows int) {
	res, err := c.Query(ctx, "SELECT COUNT(*) AS n FROM ("+sql+") AS kalam_live_count")
	if err != nil {
		return
	}
	rows := res.Rows()
	if len(rows) != 1 {
		return
	}
	n, err := rows[0].Get("n").Int64()
	if err != nil {
		return
	}
	if lastRows > 0 && int64(lastRows) < n {
		n = int64(lastRows)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = int(n)
}

func (p *progress) batch(rows int, last bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loaded += rows
	if last {
		p.done = true
		if p.open {
			fmt.Fprint(p.w, "\r\033[K")
			p.open = false
		}
		fmt.Fprintf(p.w, "snapshot loaded: %d row%s\n", p.loaded, plural(p.loaded))
		return
	}
	p.draw()
}

// draw rewrites the progress line; the caller holds mu.
func (p *progress) draw() {
	if !p.redraw || p.done {
		return
	}
	s := "loading snapshot: " + strconv.Itoa(p.loaded)
	if p.total > 0 {
		s += fmt.Sprintf(" of %d rows (%d%%)", p.total, min(100, p.loaded*100/p.total))
	} else {
		s += " rows"
	}
	fmt.Fprint(p.w, "\r\033[K"+s)
	p.open = true
}

func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		fmt.Fprint(p.w, "\r\033[K")
		p.open = false
	}
}

// say prints a line on stderr without tearing the progress line.
func (p *progress) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wasOpen := p.open
	if p.open {
		fmt.Fprint(p.w, "\r\033[K")
		p.open = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
	if wasOpen {
		p.draw()
	}
}
