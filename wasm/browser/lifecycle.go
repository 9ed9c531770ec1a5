//go:build js && wasm

package main

import (
	"context"
	"sync"
	"syscall/js"
	"time"

	"github.com/kalamgo/kalam"
)

// lifecycle feeds the page's lifecycle events to the client:
//
//   - online / offline → NetworkChanged: offline drops the socket and holds
//     redials, online redials at once instead of waiting out the backoff;
//   - visibilitychange back to visible after a hidden period, pageshow from
//     the back/forward cache, and resume after a freeze → Wake: timers of a
//     hidden tab are throttled or frozen, so token expiry and the socket's
//     liveness are checked at once.
//
// The hidden period is measured with Go's monotonic clock. Event handlers
// only queue the input; one goroutine hands the inputs to the client in
// order, so a handler never blocks the event loop.
type lifecycle struct {
	c      *kalam.Client
	signal chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	queue    []func() error
	hiddenAt time.Time
	stats    lifeStats

	remove []func()
}

type lifeStats struct {
	online, offline, wakes int
	lastHidden             time.Duration
}

func watchLifecycle(ctx context.Context, c *kalam.Client) *lifecycle {
	l := &lifecycle{c: c, signal: make(chan struct{}, 1), done: make(chan struct{})}
	global := js.Global()
	doc := global.Get("document")
	if global.Get("addEventListener").Type() != js.TypeFunction {
		close(l.done) // not a page (a worker without these events, or Node)
		return l
	}
	l.listen(global, "online", func(js.Value) {
		l.count(func(s *lifeStats) { s.online++ })
		l.push(func() error { return c.NetworkChanged(true) })
	})
	l.listen(global, "offline", func(js.Value) {
		l.count(func(s *lifeStats) { s.offline++ })
		l.push(func() error { return c.NetworkChanged(false) })
	})
	l.listen(global, "pageshow", func(ev js.Value) {
		if ev.Get("persisted").Truthy() {
			l.wake()
		}
	})
	if doc.Type() == js.TypeObject {
		l.listen(doc, "visibilitychange", func(js.Value) {
			switch doc.Get("visibilityState").String() {
			case "hidden":
				l.mu.Lock()
				l.hiddenAt = time.Now()
				l.mu.Unlock()
			case "visible":
				l.mu.Lock()
				at := l.hiddenAt
				l.hiddenAt = time.Time{}
				if !at.IsZero() {
					l.stats.lastHidden = time.Since(at) // monotonic
				}
				l.mu.Unlock()
				if !at.IsZero() {
					l.wake()
				}
			}
		})
		l.listen(doc, "resume", func(js.Value) { l.wake() })
		if doc.Get("visibilityState").String() == "hidden" {
			l.hiddenAt = time.Now()
		}
	}
	if nav := global.Get("navigator"); nav.Type() == js.TypeObject && nav.Get("onLine").Type() == js.TypeBoolean && !nav.Get("onLine").Bool() {
		l.push(func() error { return c.NetworkChanged(false) })
	}
	go l.run(ctx)
	return l
}

func (l *lifecycle) wake() {
	l.count(func(s *lifeStats) { s.wakes++ })
	l.push(l.c.Wake)
}

func (l *lifecycle) listen(target js.Value, name string, fn func(ev js.Value)) {
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		fn(arg(args, 0))
		return nil
	})
	target.Call("addEventListener", name, f)
	l.remove = append(l.remove, func() {
		target.Call("removeEventListener", name, f)
		f.Release()
	})
}

func (l *lifecycle) count(f func(*lifeStats)) {
	l.mu.Lock()
	f(&l.stats)
	l.mu.Unlock()
}

func (l *lifecycle) snapshot() lifeStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

func (l *lifecycle) push(f func() error) {
	l.mu.Lock()
	l.queue = append(l.queue, f)
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

func (l *lifecycle) run(ctx context.Context) {
	defer close(l.done)
	defer func() {
		for _, rm := range l.remove {
			rm()
		}
	}()
	for {
		select {
		case <-l.signal:
		case <-ctx.Done():
			return
		}
		l.mu.Lock()
		q := l.queue
		l.queue = nil
		l.mu.Unlock()
		for _, f := range q {
			_ = f() // ErrClosed once the client is gone; nothing else to report
		}
	}
}

func (l *lifecycle) wait() { <-l.done }
