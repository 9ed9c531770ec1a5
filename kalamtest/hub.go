package kalamtest

import (
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kalamgo/kalam/kalamtest/internal/store"
)

// hub fans committed changes out to subscriptions. The store calls enqueue
// synchronously at commit; enqueue only appends, so no connection can ever
// hold up a writer. One goroutine then routes the changes, in commit order,
// to the subscriptions of the changed table.
type hub struct {
	s *Server

	mu    sync.Mutex
	queue []store.Change
	wake  chan struct{}
	quit  chan struct{}

	subsMu sync.Mutex                                 // serializes writers of subs
	subs   atomic.Pointer[map[string][]*subscription] // table → subscriptions; copy on write
	since  map[*subscription]time.Time                // registration times, for system.live; guarded by subsMu
}

func newHub(s *Server) *hub {
	h := &hub{s: s, wake: make(chan struct{}, 1), quit: make(chan struct{}), since: map[*subscription]time.Time{}}
	h.subs.Store(&map[string][]*subscription{})
	return h
}

// enqueue is the store.Watch callback.
func (h *hub) enqueue(ch store.Change) {
	h.mu.Lock()
	h.queue = append(h.queue, ch)
	h.mu.Unlock()
	signal(h.wake)
}

func (h *hub) stop() { close(h.quit) }

func (h *hub) run() {
	defer h.s.bg.Done()
	var batch []store.Change
	for {
		select {
		case <-h.wake:
		case <-h.quit:
			return
		}
		for {
			h.mu.Lock()
			batch, h.queue = h.queue, batch[:0]
			h.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			idx := *h.subs.Load()
			for _, ch := range batch {
				for _, sub := range idx[ch.Table] {
					sub.deliver(ch)
				}
			}
			clear(batch)
			select {
			case <-h.quit:
				return
			default:
			}
		}
	}
}

func (h *hub) add(sub *subscription) {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	old := *h.subs.Load()
	next := make(map[string][]*subscription, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	t := sub.q.Table()
	next[t] = append(slices.Clip(old[t]), sub)
	h.subs.Store(&next)
	h.since[sub] = time.Now()
}

func (h *hub) remove(sub *subscription) {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	old := *h.subs.Load()
	t := sub.q.Table()
	i := slices.Index(old[t], sub)
	if i < 0 {
		return
	}
	delete(h.since, sub)
	next := make(map[string][]*subscription, len(old))
	for k, v := range old {
		next[k] = v
	}
	list := slices.Delete(slices.Clone(old[t]), i, i+1)
	if len(list) == 0 {
		delete(next, t)
	} else {
		next[t] = list
	}
	h.subs.Store(&next)
}

// liveInfo lists the registered subscriptions for system.live. The store
// calls it holding its statement lock, so it takes only subsMu, which is
// never held while calling the store, and reads only fields of a
// subscription that never change.
func (h *hub) liveInfo() []store.LiveInfo {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	var out []store.LiveInfo
	for _, subs := range *h.subs.Load() {
		for _, sub := range subs {
			at := h.since[sub]
			c := sub.conn
			out = append(out, store.LiveInfo{ConnectionID: strconv.FormatUint(c.id, 10), SubscriptionID: sub.id,
				Table: sub.q.Table(), UserID: sub.sess.User, Query: sub.sql, CreatedAt: at, LastUpdate: at,
				LastPingAt: c.t0.Add(time.Duration(c.lastFrame.Load()))})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ConnectionID != out[j].ConnectionID {
			return out[i].ConnectionID < out[j].ConnectionID
		}
		return out[i].SubscriptionID < out[j].SubscriptionID
	})
	return out
}
