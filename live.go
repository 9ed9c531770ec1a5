package kalam

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"sync/atomic"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// EventKind says what a live event is.
type EventKind = fsm.EventKind

// Event kinds.
const (
	EventSubscribed = fsm.EventSubscribed // the server acknowledged; Columns set
	EventSnapshot   = fsm.EventSnapshot   // a batch of the initial load (or of a resume replay); Last on the final one
	EventInsert     = fsm.EventInsert
	EventUpdate     = fsm.EventUpdate // Rows[0]: key + new non-null values; Old[0]: key + changed columns' old values
	EventDelete     = fsm.EventDelete // Old[0]: the deleted row
	EventResumed    = fsm.EventResumed
	EventError      = fsm.EventError
)

// Event is one thing that happened to a live query.
type Event struct {
	Kind EventKind
	// Rows are the new rows (snapshot batches, inserts, updates).
	Rows []Row
	// Old are the previous values (updates) or the deleted row (deletes).
	Old []Row
	// Columns is set on EventSubscribed and EventResumed.
	Columns []Column
	// Seq is the subscription's position after this event: the largest _seq
	// delivered so far.
	Seq wire.SeqID
	// Batch and Last describe snapshot batches.
	Batch uint32
	Last  bool
	// From and Continuity describe a resume: the position it resumed after,
	// and what may be missing. ContinuityNoDeletes: every insert and update
	// is there, deletes may be missing (KalamDB does not replay them after
	// an outage, a pause, or changes it dropped). ContinuityBroken: a gap
	// could not be repaired; Err says why.
	From       wire.SeqID
	Continuity Continuity
	// Err is set on an EventResumed whose gap could not be repaired. The
	// subscription goes on; the iteration's own error (the second value)
	// is reserved for what ends it.
	Err error
}

// LiveOptions tune a live query. The zero value asks for the initial
// snapshot in the server's default batch size.
type LiveOptions struct {
	// BatchSize is the number of rows per snapshot batch, at most
	// MaxBatchSize. Zero means the server's default (DefaultBatchSize).
	BatchSize int `json:"batchSize,omitempty"`
	// LastRows limits the snapshot to the newest N rows. N must not exceed
	// the batch size (BatchSize, or DefaultBatchSize when that is zero).
	LastRows int `json:"lastRows,omitempty"`
	// From starts after this _seq: only newer rows are sent (resume).
	From *wire.SeqID `json:"from,omitempty"`
	// NoSnapshot skips the initial snapshot: only changes from now on.
	NoSnapshot bool `json:"noSnapshot,omitempty"`
	// Wait parks the live query until credentials and a namespace are set,
	// instead of failing with ErrNoCredentials or ErrNoNamespace.
	Wait bool `json:"wait,omitempty"`
	// ID names the subscription on the wire. Empty means a unique generated
	// id; the same SQL twice is always two subscriptions.
	ID string `json:"id,omitempty"`
}

// DefaultBatchSize is the server's snapshot batch size when
// LiveOptions.BatchSize is zero (KalamDB's MAX_ROWS_PER_BATCH).
const DefaultBatchSize = 1000

// MaxBatchSize bounds LiveOptions.BatchSize: one batch is one frame, held
// whole in memory on both ends.
const MaxBatchSize = 100_000

func (o LiveOptions) wire() (*wire.SubscriptionOptions, error) {
	if o.NoSnapshot {
		if o.BatchSize != 0 || o.LastRows != 0 || o.From != nil {
			return nil, &ConfigError{Field: "LiveOptions.NoSnapshot", Reason: "excludes BatchSize, LastRows and From"}
		}
		return nil, nil
	}
	if o.BatchSize < 0 || o.LastRows < 0 {
		return nil, &ConfigError{Field: "LiveOptions", Reason: "BatchSize and LastRows must not be negative"}
	}
	if o.BatchSize > MaxBatchSize {
		return nil, &ConfigError{Field: "LiveOptions.BatchSize", Reason: fmt.Sprintf("at most %d rows per batch", MaxBatchSize)}
	}
	batch := o.BatchSize
	if batch == 0 {
		batch = DefaultBatchSize
	}
	if o.LastRows > batch {
		// KalamDB refuses it (UNSUPPORTED): say so before anything is sent.
		return nil, &ConfigError{Field: "LiveOptions.LastRows", Reason: fmt.Sprintf("%d exceeds the batch size %d", o.LastRows, batch)}
	}
	w := &wire.SubscriptionOptions{From: o.From}
	if o.BatchSize > 0 {
		w.BatchSize = &o.BatchSize
	}
	if o.LastRows > 0 {
		w.LastRows = &o.LastRows
	}
	return w, nil
}

// Subscription is a live query. Read its events with Events; stop it with
// Close. The client reads the socket as fast as the network delivers and
// never waits for the consumer: events wait in the subscription's buffer,
// bounded in bytes (Config.BufferBytes). Only a consumer that falls behind
// by a whole buffer pauses the subscription, which then resumes from the
// last buffered row once the consumer catches up, so events are neither
// lost nor repeated.
type Subscription struct {
	c   *Client
	id  string
	sql string
	q   *eventQueue
	// done is closed by the loop after the final event is set.
	done  chan struct{}
	final fsm.Event

	// Loop-owned.
	lastQueued wire.SeqID
	hasQueued  bool
	lagging    bool
	ended      bool

	resumeAsked atomic.Bool
	iterating   atomic.Bool
}

// ID returns the subscription's id on the wire.
func (s *Subscription) ID() string { return s.id }

// SQL returns the live query's SQL as given.
func (s *Subscription) SQL() string { return s.sql }

// Live starts a live query: an initial snapshot (unless opts.NoSnapshot)
// followed by every insert, update and delete matching sql, across
// reconnects and token refreshes. Unqualified table names are qualified
// with the client's namespace; SQL that qualifies every table needs none.
// It fails at once with ErrNoNamespace, ErrNoCredentials or
// ErrCredentialsRejected when those are missing (unless opts.Wait), before
// anything is sent.
func (c *Client) Live(ctx context.Context, sql string, opts LiveOptions) (*Subscription, error) {
	wopts, err := opts.wire()
	if err != nil {
		return nil, err
	}
	id := opts.ID
	if id == "" {
		id = "kalam-" + strconv.FormatUint(c.nextSub.Add(1), 10)
	}
	s := &Subscription{c: c, id: id, sql: sql, q: newEventQueue(c.cfg.EventBuffer, c.cfg.BufferBytes), done: make(chan struct{})}
	in := fsm.Subscribe{ID: id, SQL: sql, Options: wopts, Wait: opts.Wait}
	err = c.do(ctx, in, func() {
		if c.subs[id] == nil {
			c.subs[id] = s
		}
	})
	if err != nil {
		_ = c.exec(func() {
			if c.subs[id] == s {
				delete(c.subs, id)
			}
		})
		return nil, err
	}
	return s, nil
}

// deliver routes an engine event to its subscription's buffer without ever
// blocking the loop.
func (c *Client) deliver(d fsm.Deliver) {
	s := c.subs[d.Sub]
	if s == nil || s.ended {
		return
	}
	ev := d.Event
	if ev.Kind == fsm.EventEnded || ev.Kind == fsm.EventError {
		s.ended = true
		s.final = ev
		delete(c.subs, d.Sub)
		close(s.done)
		return
	}
	if s.lagging {
		return // dropped: the resume after the pause replays it
	}
	if s.q.push(ev) {
		if hasRows(ev) {
			s.lastQueued, s.hasQueued = ev.Seq, true
		}
		return
	}
	// The consumer lags by a whole buffer: the last resort. Everything
	// after the last buffered row will be replayed once it catches up.
	s.lagging = true
	s.resumeAsked.Store(false)
	events, bytes := s.q.size()
	c.log.Debug("kalam: subscription paused for a slow consumer", "id", s.id, "events", events, "bytes", bytes)
	c.followups = append(c.followups, fsm.Pause{ID: s.id, Position: s.lastQueued, HasPosition: s.hasQueued})
	// The consumer may have emptied the buffer between the refused push
	// and the reset of resumeAsked, asking for nothing: then nobody else
	// would resume the subscription.
	if s.q.lowWater() && s.resumeAsked.CompareAndSwap(false, true) {
		s.lagging = false
		c.followups = append(c.followups, fsm.Resume{ID: s.id})
	}
}

func hasRows(ev fsm.Event) bool { return len(ev.Rows) > 0 || len(ev.OldValues) > 0 }

// Events iterates over the subscription's events until it ends, ctx ends,
// or the loop body breaks. An error ends the iteration: the server refused
// or dropped the subscription (*ServerError), the credentials were refused
// for good before the server acknowledged it (ErrCredentialsRejected), the
// give-up policy stopped the retries (*GiveUpError), the client drained or
// closed (ErrDraining, ErrClosed), or ctx ended. Closing the subscription ends it
// without an error. Only one iteration may run at a time.
func (s *Subscription) Events(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if !s.iterating.CompareAndSwap(false, true) {
			yield(Event{}, errors.New("kalam: Events is already being iterated"))
			return
		}
		defer s.iterating.Store(false)
		for {
			fe, ok := s.q.pop()
			if !ok {
				select {
				case <-s.q.ready:
					continue
				case <-s.done:
					// Nothing more is queued after done: flush, then the end.
					for fe, ok := s.q.pop(); ok; fe, ok = s.q.pop() {
						if !s.yield(fe, yield) {
							return
						}
					}
					if s.final.Err != nil {
						yield(Event{Kind: s.final.Kind, Seq: s.final.Seq}, s.final.Err)
					}
					return
				case <-ctx.Done():
					yield(Event{}, ctx.Err())
					return
				}
			}
			if !s.yield(fe, yield) {
				return
			}
		}
	}
}

func (s *Subscription) yield(fe fsm.Event, yield func(Event, error) bool) bool {
	s.maybeResume()
	ev, err := s.convert(fe)
	return yield(ev, err)
}

// maybeResume asks the loop to resume a paused subscription once the
// consumer has emptied most of the buffer.
func (s *Subscription) maybeResume() {
	if !s.q.lowWater() || !s.resumeAsked.CompareAndSwap(false, true) {
		return
	}
	c := s.c
	go func() {
		_ = c.exec(func() {
			if s.lagging && !s.ended {
				s.lagging = false
				c.step(fsm.Resume{ID: s.id})
			}
		})
	}()
}

func (s *Subscription) convert(fe fsm.Event) (Event, error) {
	ev := Event{Kind: fe.Kind, Seq: fe.Seq, Batch: fe.Batch, Last: fe.Last, From: fe.From, Continuity: fe.Continuity, Err: fe.Err}
	if fe.Schema != nil {
		ev.Columns = columns(fe.Schema)
	}
	var err error
	if ev.Rows, err = decodeRows(fe.Rows); err != nil {
		return ev, errors.Join(ErrProtocol, err)
	}
	if ev.Old, err = decodeRows(fe.OldValues); err != nil {
		return ev, errors.Join(ErrProtocol, err)
	}
	return ev, nil
}

func decodeRows(raw []wire.Row) ([]Row, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]Row, len(raw))
	for i, r := range raw {
		row, err := rowFromWire(r)
		if err != nil {
			return nil, err
		}
		out[i] = row
	}
	return out, nil
}

// Position returns the _seq of the last row delivered to this subscription's
// buffer.
func (s *Subscription) Position() (wire.SeqID, bool) {
	for _, info := range s.c.Subscriptions() {
		if info.ID == s.id {
			return info.Position, info.HasPosition
		}
	}
	return 0, false
}

// Close stops the live query (unsubscribe). Its iteration ends without an
// error. Closing twice, or after the client closed, returns
// ErrUnknownSubscription or ErrClosed.
func (s *Subscription) Close() error {
	return s.c.do(context.Background(), fsm.Unsubscribe{ID: s.id}, nil)
}
