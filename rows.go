package kalam

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
)

// ErrViewTooLarge ends a LiveRows view that would hold more rows than its
// RowsOptions.Limit.
var ErrViewTooLarge = errors.New("kalam: live rows view over its limit")

// ErrNoKey means a LiveRows view has no key: the SQL's columns carry no
// primary key and RowsOptions.Key is empty.
var ErrNoKey = errors.New("kalam: live rows view has no key columns")

// RowsOptions tune a LiveRows view.
type RowsOptions struct {
	// Key names the columns that identify a row. Empty means the primary
	// key columns of the result.
	Key []string `json:"key,omitempty"`
	// BatchSize is the snapshot batch size. Zero means the server's default.
	BatchSize int `json:"batchSize,omitempty"`
	// Limit caps the number of rows held; past it the view stops with
	// ErrViewTooLarge. Zero means no limit.
	Limit int `json:"limit,omitempty"`
}

// LiveRows is a materialized view of a live query: the set of rows a fresh
// SELECT would return, kept current by the subscription's events, keyed by
// primary key. Updates merge into the row (KalamDB sends only key and
// non-null columns); deletes remove it. KalamDB does not replay deletes
// (after an outage, a pause, or changes its limits made it drop), so
// whenever continuity says deletes may be missing, or a gap could not be
// repaired, the view reloads through a fresh subscription and swaps in the
// new snapshot once it is complete: it always converges to what a fresh
// SELECT returns. Until the first snapshot is complete the view is empty
// (see Ready).
//
// A LiveRows is safe for concurrent use.
type LiveRows struct {
	c    *Client
	sql  string
	opts RowsOptions
	key  []string

	mu      sync.RWMutex
	rows    map[string]Row
	ready   bool
	resyncs int
	gaps    []error // the latest unrepaired gaps reported (at most maxGaps)
	err     error
	changed chan struct{}
	done    chan struct{}

	cancel context.CancelFunc
	sub    *Subscription // owned by run
}

// LiveRows starts a materialized view of sql. It returns once the
// subscription is registered; Ready reports when the first snapshot is in.
func (c *Client) LiveRows(ctx context.Context, sql string, opts RowsOptions) (*LiveRows, error) {
	if opts.Limit < 0 || opts.BatchSize < 0 {
		return nil, &ConfigError{Field: "RowsOptions", Reason: "Limit and BatchSize must not be negative"}
	}
	v := &LiveRows{c: c, sql: sql, opts: opts, key: slices.Clone(opts.Key), rows: map[string]Row{}, changed: make(chan struct{}), done: make(chan struct{})}
	sub, err := c.Live(ctx, sql, LiveOptions{BatchSize: opts.BatchSize})
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	v.sub = sub
	go v.run(rctx)
	return v, nil
}

// run applies events until the view ends. Whenever continuity says
// something may be missing, the view reloads through a fresh subscription.
func (v *LiveRows) run(ctx context.Context) {
	defer close(v.done)
	for {
		next, err := v.follow(ctx, v.sub)
		if next == nil {
			v.finish(err)
			return
		}
		v.sub = next
	}
}

// follow consumes one subscription. Its snapshot goes into a staged map
// that replaces the view's rows once complete, so the view never shows a
// half-loaded or a stale-and-partial state. It returns the replacement
// subscription when a reload is needed, or nil and the reason the view
// ends.
//
// A reload is needed whenever continuity is not full: deletes may be
// missing (a resume, a pause, a catch-up after changes the server
// dropped), or a gap could not be repaired. If that happens while this
// subscription is still loading, the load is completed and swapped in
// first, then reloaded again: each reload makes progress even while the
// server keeps dropping changes, and once it stops, a reload that meets no
// trouble leaves the view equal to a fresh SELECT.
func (v *LiveRows) follow(ctx context.Context, sub *Subscription) (*Subscription, error) {
	staged := map[string]Row{}
	target := staged // until the snapshot is complete
	loaded := false
	stale := false // continuity was lost: reload once this load is in
	for ev, err := range sub.Events(ctx) {
		if err != nil {
			return nil, err
		}
		if ev.Kind == EventResumed && ev.Continuity != ContinuityFull {
			if ev.Err != nil {
				v.mu.Lock()
				v.gaps = append(v.gaps, ev.Err)
				if len(v.gaps) > maxGaps {
					v.gaps = slices.Delete(v.gaps, 0, 1)
				}
				v.mu.Unlock()
			}
			if loaded {
				return v.reload(ctx, sub)
			}
			stale = true
		}
		switch ev.Kind {
		case EventSubscribed:
			if len(v.key) == 0 {
				for _, col := range ev.Columns {
					if col.PrimaryKey {
						v.key = append(v.key, col.Name)
					}
				}
			}
			if len(v.key) == 0 {
				_ = sub.Close()
				return nil, ErrNoKey
			}
		case EventSnapshot:
			v.mu.Lock()
			for _, r := range ev.Rows {
				target[v.keyOf(r)] = r
			}
			if ev.Last && !loaded {
				v.rows, target, loaded = staged, staged, true
				v.ready = true
			}
			err := v.checkLimit(target)
			v.mu.Unlock()
			if err != nil {
				_ = sub.Close()
				return nil, err
			}
			if loaded && stale {
				v.signal()
				return v.reload(ctx, sub)
			}
		case EventInsert, EventUpdate, EventDelete:
			v.mu.Lock()
			v.apply(target, ev)
			err := v.checkLimit(target)
			v.mu.Unlock()
			if err != nil {
				_ = sub.Close()
				return nil, err
			}
		}
		if loaded {
			v.signal()
		}
	}
	return nil, ctx.Err()
}

// reload replaces sub with a fresh subscription whose snapshot will
// replace the rows.
func (v *LiveRows) reload(ctx context.Context, sub *Subscription) (*Subscription, error) {
	_ = sub.Close()
	next, err := v.c.Live(ctx, v.sql, LiveOptions{BatchSize: v.opts.BatchSize})
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.resyncs++
	v.mu.Unlock()
	return next, nil
}

// apply merges one change into rows; v.mu is held.
func (v *LiveRows) apply(rows map[string]Row, ev Event) {
	switch ev.Kind {
	case EventInsert:
		for _, r := range ev.Rows {
			rows[v.keyOf(r)] = r
		}
	case EventUpdate:
		for i, r := range ev.Rows {
			k := v.keyOf(r)
			merged := make(Row, len(rows[k])+len(r))
			for col, val := range rows[k] {
				merged[col] = val
			}
			for col, val := range r {
				merged[col] = val
			}
			// A column in the old values but not in the new row became NULL.
			if i < len(ev.Old) {
				for col := range ev.Old[i] {
					if _, ok := r[col]; !ok {
						merged[col] = Value{}
					}
				}
			}
			rows[k] = merged
		}
	case EventDelete:
		for _, r := range ev.Old {
			delete(rows, v.keyOf(r))
		}
	}
}

func (v *LiveRows) checkLimit(rows map[string]Row) error {
	if v.opts.Limit > 0 && len(rows) > v.opts.Limit {
		return ErrViewTooLarge
	}
	return nil
}

// keyOf joins the key cells' JSON; JSON text cannot contain a raw NUL.
func (v *LiveRows) keyOf(r Row) string {
	if len(v.key) == 1 {
		return string(r[v.key[0]].raw)
	}
	parts := make([]string, len(v.key))
	for i, k := range v.key {
		parts[i] = string(r[k].raw)
	}
	return strings.Join(parts, "\x00")
}

// signal wakes everyone waiting on the current Changed channel.
func (v *LiveRows) signal() {
	v.mu.Lock()
	close(v.changed)
	v.changed = make(chan struct{})
	v.mu.Unlock()
}

func (v *LiveRows) finish(err error) {
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
	v.signal()
}

func (v *LiveRows) isReady() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.ready
}

// Rows returns a copy of the current rows, ordered by _seq (oldest first).
func (v *LiveRows) Rows() []Row {
	v.mu.RLock()
	out := make([]Row, 0, len(v.rows))
	for _, r := range v.rows {
		out = append(out, r)
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b Row) int {
		sa, _ := a.Seq()
		sb, _ := b.Seq()
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	})
	return out
}

// Len returns the number of rows.
func (v *LiveRows) Len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.rows)
}

// Ready reports whether the first snapshot has fully arrived.
func (v *LiveRows) Ready() bool { return v.isReady() }

// maxGaps bounds the gaps a LiveRows remembers.
const maxGaps = 8

// Gaps returns the latest gaps the subscription could not repair (each a
// *GapError, matching ErrGap, saying why), oldest first. The view itself
// reloaded after each one, so its rows are not affected: this is for
// applications that log or count such events.
func (v *LiveRows) Gaps() []error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return slices.Clone(v.gaps)
}

// Resyncs counts the reloads done because continuity was lost: outages,
// pauses, and catch-ups after changes the server dropped.
func (v *LiveRows) Resyncs() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.resyncs
}

// Err returns why the view stopped (nil while it runs, and after Close).
func (v *LiveRows) Err() error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if errors.Is(v.err, context.Canceled) {
		return nil
	}
	return v.err
}

// Changed returns a channel that is closed at the next change to the rows
// (or when the view stops). Call it again for the change after.
func (v *LiveRows) Changed() <-chan struct{} {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.changed
}

// WaitFor blocks until cond holds for the current rows (checked after the
// first snapshot and after every change), the view stops, or ctx ends.
func (v *LiveRows) WaitFor(ctx context.Context, cond func([]Row) bool) error {
	for {
		ch := v.Changed()
		if v.Ready() && cond(v.Rows()) {
			return nil
		}
		select {
		case <-v.done:
			if v.Ready() && cond(v.Rows()) {
				return nil
			}
			if err := v.Err(); err != nil {
				return err
			}
			return ErrClosed
		default:
		}
		select {
		case <-ch:
		case <-v.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops the view and its subscription.
func (v *LiveRows) Close() error {
	v.cancel()
	<-v.done
	if v.sub != nil {
		if err := v.sub.Close(); err != nil && !errors.Is(err, ErrUnknownSubscription) && !errors.Is(err, ErrClosed) {
			return err
		}
	}
	return nil
}
