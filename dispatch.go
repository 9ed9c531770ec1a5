package kalam

import (
	"sync"
	"sync/atomic"
)

// problem is an OnError notification.
type problem struct {
	err         error
	recoverable bool
}

// dispatcher calls the application's callbacks in order from one goroutine
// the client owns, so a callback may call the client (even Close) without
// blocking the loop.
type dispatcher struct {
	cfg     Config
	mu      sync.Mutex
	q       []any
	wake    chan struct{}
	closed  bool
	done    chan struct{}
	running atomic.Bool // inside a callback
}

func newDispatcher(cfg Config) *dispatcher {
	d := &dispatcher{cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if cfg.OnStateChange == nil && cfg.OnConnection == nil && cfg.OnError == nil {
		close(d.done)
		d.closed = true
		return d
	}
	go d.run()
	return d
}

func (d *dispatcher) push(ev any) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.q = append(d.q, ev)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// close stops accepting events; the queued ones are still delivered.
func (d *dispatcher) close() {
	d.mu.Lock()
	already := d.closed
	d.closed = true
	d.mu.Unlock()
	if !already {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// wait blocks until every queued callback ran, unless called from inside a
// callback (which would wait for itself).
func (d *dispatcher) wait() {
	if d.running.Load() {
		return
	}
	<-d.done
}

func (d *dispatcher) run() {
	defer close(d.done)
	for {
		<-d.wake
		for {
			d.mu.Lock()
			q := d.q
			d.q = nil
			closed := d.closed
			d.mu.Unlock()
			if len(q) == 0 {
				if closed {
					return
				}
				break
			}
			for _, ev := range q {
				d.call(ev)
			}
		}
	}
}

func (d *dispatcher) call(ev any) {
	d.running.Store(true)
	defer d.running.Store(false)
	defer func() {
		if r := recover(); r != nil {
			d.cfg.Logger.Error("kalam: a callback panicked", "panic", r)
		}
	}()
	switch ev := ev.(type) {
	case Transition:
		if d.cfg.OnStateChange != nil {
			d.cfg.OnStateChange(ev)
		}
	case ConnectionEvent:
		if d.cfg.OnConnection != nil {
			d.cfg.OnConnection(ev)
		}
	case problem:
		if d.cfg.OnError != nil {
			d.cfg.OnError(ev.err, ev.recoverable)
		}
	}
}
