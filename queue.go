package kalam

import (
	"sync"

	"github.com/kalamgo/kalam/fsm"
)

// eventQueue is a subscription's bounded buffer between the client's loop
// (the only producer) and the consumer. It is bounded in bytes of row data
// (and, when the application asks for it, in events too). It grows on
// demand and lets go of its storage once drained, so an idle subscription
// costs a few hundred bytes rather than a full buffer.
type eventQueue struct {
	mu    sync.Mutex
	buf   []fsm.Event // a ring of len(buf) slots
	cost  []int       // cost[i] is eventCost(buf[i])
	head  int
	n     int
	bytes int // the cost of the queued events
	// maxEvents caps n when positive; maxBytes caps bytes, except that an
	// empty queue takes any one event (a snapshot batch larger than the
	// whole bound must still get through).
	maxEvents int
	maxBytes  int
	// ready holds a token when events may be waiting; the producer adds
	// one after every push, so a consumer that found the queue empty and
	// then waits on ready never misses an event.
	ready chan struct{}
}

func newEventQueue(maxEvents, maxBytes int) *eventQueue {
	return &eventQueue{maxEvents: maxEvents, maxBytes: maxBytes, ready: make(chan struct{}, 1)}
}

// Per-event and per-row bookkeeping beyond the rows' JSON: the Event and
// its slices, as held in memory. Rough, and on the generous side, so that
// the byte bound is an upper bound on what a buffer really holds.
const (
	eventOverhead = 160
	rowOverhead   = 24
)

// eventCost estimates the memory ev holds while it waits in a buffer.
func eventCost(ev *fsm.Event) int {
	n := eventOverhead
	for _, r := range ev.Rows {
		n += len(r) + rowOverhead
	}
	for _, r := range ev.OldValues {
		n += len(r) + rowOverhead
	}
	return n
}

// push appends ev; it reports false, changing nothing, when the queue is
// full.
func (q *eventQueue) push(ev fsm.Event) bool {
	c := eventCost(&ev)
	q.mu.Lock()
	if q.n > 0 && (q.bytes+c > q.maxBytes || q.maxEvents > 0 && q.n >= q.maxEvents) {
		q.mu.Unlock()
		return false
	}
	if q.n == len(q.buf) {
		q.grow()
	}
	i := (q.head + q.n) % len(q.buf)
	q.buf[i], q.cost[i] = ev, c
	q.n++
	q.bytes += c
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

func (q *eventQueue) grow() {
	size := max(4, 2*len(q.buf))
	if q.maxEvents > 0 {
		size = min(size, q.maxEvents)
	}
	next := make([]fsm.Event, size)
	cost := make([]int, size)
	for i := range q.n {
		j := (q.head + i) % len(q.buf)
		next[i], cost[i] = q.buf[j], q.cost[j]
	}
	q.buf, q.cost, q.head = next, cost, 0
}

// pop removes the oldest event.
func (q *eventQueue) pop() (fsm.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return fsm.Event{}, false
	}
	ev := q.buf[q.head]
	q.bytes -= q.cost[q.head]
	q.buf[q.head] = fsm.Event{} // let the rows go
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 && len(q.buf) > 16 {
		q.buf, q.cost, q.head = nil, nil, 0 // a burst is over: give its storage back
	}
	return ev, true
}

// len returns how many events wait.
func (q *eventQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// size returns how many events wait and their cost in bytes.
func (q *eventQueue) size() (events, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.bytes
}

// lowWater reports whether the queue has drained to a quarter of its
// bounds: the point at which a paused subscription resumes.
func (q *eventQueue) lowWater() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes <= q.maxBytes/4 && (q.maxEvents <= 0 || q.n <= q.maxEvents/4)
}
