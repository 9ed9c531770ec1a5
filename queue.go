package kalam

import (
	"sync"

	"github.com/kalamgo/kalam/fsm"
)

// eventQueue is a subscription's bounded buffer between the client's loop
// (the only producer) and the consumer. It grows on demand up to its limit
// and lets go of its storage once drained, so an idle subscription costs a
// few hundred bytes rather than a full buffer.
type eventQueue struct {
	mu    sync.Mutex
	buf   []fsm.Event // a ring of len(buf) slots
	head  int
	n     int
	limit int
	// ready holds a token when events may be waiting; the producer adds
	// one after every push, so a consumer that found the queue empty and
	// then waits on ready never misses an event.
	ready chan struct{}
}

func newEventQueue(limit int) *eventQueue {
	return &eventQueue{limit: limit, ready: make(chan struct{}, 1)}
}

// push appends ev; it reports false, changing nothing, when the queue is
// full.
func (q *eventQueue) push(ev fsm.Event) bool {
	q.mu.Lock()
	if q.n == q.limit {
		q.mu.Unlock()
		return false
	}
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = ev
	q.n++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

func (q *eventQueue) grow() {
	size := min(max(4, 2*len(q.buf)), q.limit)
	next := make([]fsm.Event, size)
	for i := range q.n {
		next[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = next, 0
}

// pop removes the oldest event.
func (q *eventQueue) pop() (fsm.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return fsm.Event{}, false
	}
	ev := q.buf[q.head]
	q.buf[q.head] = fsm.Event{} // let the rows go
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 && len(q.buf) > 16 {
		q.buf, q.head = nil, 0 // a burst is over: give its storage back
	}
	return ev, true
}

// len returns how many events wait.
func (q *eventQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
