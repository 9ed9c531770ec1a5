package kalamtest

import (
	"context"
	"sync"
)

// outItem is one entry of a connection's outgoing queue: messages written
// in order, or a close.
type outItem struct {
	msgs    []any // JSON-marshalable messages
	text    bool  // never compress (auth replies)
	notif   bool  // a live change notification, counted against the cap
	changes int   // how many of msgs are change messages (for Stats)
	close   *closeReq
}

type closeReq struct {
	code   int
	reason string
}

// outbox is a connection's outgoing queue. Producers never block: replies
// to the client's own requests are always accepted (the reader stops
// reading while too many are pending), and change notifications are
// bounded by a cap (Config.OutgoingQueue) that the overflow policy
// enforces.
//
// What is bounded follows PROTOCOL.md §4.6 and §4.9: KalamDB's bounded
// channel carries change notifications only, so only they can be dropped.
// That subscription_ack, initial_data_batch, error and auth replies are
// written straight to the socket, never dropped and never counted against
// the cap, is INFERRED from the spec naming only changes as dropped. The
// buffered changes of a load go through the bounded queue when the load
// completes and stop at the first that does not fit (INFERRED from
// KalamDB's flush, which try_sends them into the same channel and gives up
// when it is full).
type outbox struct {
	mu      sync.Mutex
	items   []outItem
	notifs  int  // queued change messages in notification items
	replies int  // queued non-notification items
	closing bool // a close is queued or done: accept nothing more

	wake    chan struct{} // writer wake-up, capacity 1
	drained chan struct{} // reader wake-up when replies drop, capacity 1
}

func newOutbox() *outbox {
	return &outbox{wake: make(chan struct{}, 1), drained: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// push queues a reply. It reports false when the connection is closing.
func (o *outbox) push(it outItem) bool {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return false
	}
	o.items = append(o.items, it)
	o.replies++
	o.mu.Unlock()
	signal(o.wake)
	return true
}

// pushNotif queues a notification of one change unless limit changes
// are already queued (limit < 0: no limit). It reports whether it was
// queued, and whether it was refused for lack of room (as opposed to a
// closing connection).
func (o *outbox) pushNotif(it outItem, limit int) (queued, full bool) {
	it.notif, it.changes = true, 1
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return false, false
	}
	if limit >= 0 && o.notifs >= limit {
		o.mu.Unlock()
		return false, true
	}
	o.items = append(o.items, it)
	o.notifs++
	o.mu.Unlock()
	signal(o.wake)
	return true, false
}

// pushNotifs queues as many of msgs, one change each, as the room under
// limit allows, in order, and returns how many it queued; the rest did
// not fit. A closing connection queues none and reports closing.
func (o *outbox) pushNotifs(msgs []any, limit int) (queued int, closing bool) {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return 0, true
	}
	n := len(msgs)
	if limit >= 0 {
		n = min(n, max(0, limit-o.notifs))
	}
	if n > 0 {
		o.items = append(o.items, outItem{msgs: msgs[:n:n], notif: true, changes: n})
		o.notifs += n
	}
	o.mu.Unlock()
	if n > 0 {
		signal(o.wake)
	}
	return n, false
}

// pushClose queues a close after what is already queued; with discard, the
// queue is emptied first. It reports false if a close was queued already.
func (o *outbox) pushClose(c closeReq, discard bool) bool {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return false
	}
	o.closing = true
	if discard {
		clear(o.items)
		o.items = o.items[:0]
		o.notifs, o.replies = 0, 0
	}
	o.items = append(o.items, outItem{close: &c})
	o.mu.Unlock()
	signal(o.wake)
	signal(o.drained)
	return true
}

// take moves the queued items into buf and returns it.
func (o *outbox) take(buf []outItem) []outItem {
	o.mu.Lock()
	buf = append(buf, o.items...)
	clear(o.items)
	o.items = o.items[:0]
	o.mu.Unlock()
	return buf
}

// sent records that it was written.
func (o *outbox) sent(it *outItem) {
	o.mu.Lock()
	if it.notif {
		o.notifs = max(0, o.notifs-it.changes)
	} else if o.replies > 0 {
		o.replies--
	}
	o.mu.Unlock()
	if !it.notif {
		signal(o.drained)
	}
}

// waitReplies blocks until at most limit replies are queued, the
// connection is closing, or ctx ends.
func (o *outbox) waitReplies(ctx context.Context, limit int) {
	for {
		o.mu.Lock()
		ok := o.replies <= limit || o.closing
		o.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-o.drained:
		case <-ctx.Done():
			return
		}
	}
}

// isClosing reports whether a close was queued.
func (o *outbox) isClosing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closing
}
