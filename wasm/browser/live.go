//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall/js"

	"github.com/kalamgo/kalam"
)

// maxBatch bounds the events handed to JavaScript in one batch; a
// subscription's batches are also capped at the client's EventBuffer when
// one is set (see subHandle).
const maxBatch = 512

type subItem struct {
	ev  kalam.Event
	err error
}

// subHandle is a subscription as JavaScript holds it. Events are pushed:
// listen(deliver) starts a goroutine that calls deliver(json) with every
// event buffered at that moment (one JSON array), deliver(undefined, err)
// when the subscription fails and deliver() when it ends. Go→JS calls are
// cheap and JS→Go calls are not (each one is an event the Go scheduler
// handles, with a handful of calls back to read its arguments), so the
// steady state costs one Go→JS call per batch and no JS→Go call at all.
//
// Flow control: deliver returns true when JavaScript could not consume the
// batch at once (an async iterator nobody is awaiting); the goroutine then
// delivers nothing more until want() is called. A slow consumer therefore
// leaves events in the subscription's bounded buffer, which pauses and
// later resumes the subscription, and JavaScript holds at most one batch
// it has not asked for. A batch is at most maxBatch events (fewer when the
// client sets an EventBuffer), and the hand-off channel holds one event
// more, beyond the subscription's buffer (Config.BufferBytes).
type subHandle struct {
	sub   *kalam.Subscription
	m     *methods
	items chan subItem
	quit  chan struct{}
	want  chan struct{}
	once  sync.Once // listen starts the pump once
	batch int       // most events per batch
}

func newSubHandle(ctx context.Context, sub *kalam.Subscription, eventBuffer int) *subHandle {
	if eventBuffer <= 0 {
		eventBuffer = maxBatch // no cap on the count: the byte bound rules
	}
	s := &subHandle{sub: sub, m: newMethods(), items: make(chan subItem, 1), quit: make(chan struct{}), want: make(chan struct{}, 1),
		batch: min(maxBatch, eventBuffer)}
	go func() {
		defer close(s.items)
		for ev, err := range sub.Events(ctx) {
			select {
			case s.items <- subItem{ev, err}:
			case <-s.quit:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	m := s.m
	m.obj.Set("id", sub.ID())
	m.set("position", func([]js.Value) any {
		if seq, ok := sub.Position(); ok {
			return seq.String()
		}
		return nil
	})
	m.set("listen", func(args []js.Value) any {
		deliver := arg(args, 0)
		if deliver.Type() != js.TypeFunction {
			return toJSError(&configError{field: "listen", reason: "needs a function"})
		}
		started := false
		s.once.Do(func() {
			started = true
			go s.pump(ctx, deliver)
		})
		if !started {
			return toJSError(errors.New("kalam: the subscription is already being consumed"))
		}
		return nil
	})
	m.set("want", func([]js.Value) any {
		select {
		case s.want <- struct{}{}:
		default:
		}
		return nil
	})
	m.set("close", func([]js.Value) any {
		return promise(func() (any, error) {
			err := sub.Close()
			select {
			case <-s.quit:
			default:
				close(s.quit)
			}
			return nil, err
		})
	})
	return s
}

// pump hands the subscription's events to deliver, in order, a batch at a
// time. Once the subscription is closed (or the client), it stops waiting
// for want() and flushes what is left: at most the items channel's worth,
// since the forwarding goroutine stops too, then the end.
func (s *subHandle) pump(ctx context.Context, deliver js.Value) {
	holdable := true
	buf := make([]byte, 0, 4096)
	evs := make([]kalam.Event, 0, 16)
	for {
		it, ok := <-s.items
		if !ok {
			callJS(deliver)
			return
		}
		if it.err != nil {
			s.fail(deliver, it.err)
			return
		}
		evs = append(evs[:0], it.ev)
		var pending error
		ended := false
	more:
		for len(evs) < s.batch {
			select {
			case it, ok := <-s.items:
				switch {
				case !ok:
					ended = true
					break more
				case it.err != nil:
					pending = it.err
					break more
				}
				evs = append(evs, it.ev)
			default:
				break more
			}
		}
		buf = appendEvents(buf[:0], evs)
		clear(evs) // let the rows go
		hold := deliverBatch(deliver, string(buf))
		if cap(buf) > 1<<20 {
			buf = make([]byte, 0, 4096) // a huge batch: do not keep its storage
		}
		switch {
		case pending != nil:
			s.fail(deliver, pending)
			return
		case ended:
			callJS(deliver)
			return
		}
		if !hold || !holdable {
			continue
		}
		select {
		case <-s.want:
		case <-s.quit:
			holdable = false
		case <-ctx.Done():
			holdable = false
		}
	}
}

// deliverBatch hands one batch to JavaScript and reports whether it asked
// to hold further batches until want(). A deliver that throws (a bug in
// bindings/js, which catches the application's own exceptions) is reported
// on the console and holds too: nothing more is pushed at a broken consumer.
func deliverBatch(deliver js.Value, json string) (hold bool) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "kalam: delivering live events threw: %v\n", r)
			hold = true
		}
	}()
	return deliver.Invoke(json).Truthy()
}

// fail reports err, the subscription's last word, and lets the forwarding
// goroutine finish.
func (s *subHandle) fail(deliver js.Value, err error) {
	callJS(deliver, js.Undefined(), toJSError(err))
	for range s.items {
	}
}

// rowsHandle is a LiveRows view as JavaScript holds it. onChange, when
// given, receives the whole row set (one JSON array) after each change;
// changes that pile up while JavaScript is busy are coalesced.
type rowsHandle struct {
	v    *kalam.LiveRows
	m    *methods
	quit chan struct{}
}

func newRowsHandle(ctx context.Context, v *kalam.LiveRows, onChange js.Value) *rowsHandle {
	r := &rowsHandle{v: v, m: newMethods(), quit: make(chan struct{})}
	if onChange.Type() == js.TypeFunction {
		go r.watch(ctx, onChange)
	}
	m := r.m
	m.set("rows", func([]js.Value) any { return string(appendRows(nil, v.Rows())) })
	m.set("len", func([]js.Value) any { return v.Len() })
	m.set("ready", func([]js.Value) any { return v.Ready() })
	m.set("resyncs", func([]js.Value) any { return v.Resyncs() })
	m.set("error", func([]js.Value) any {
		if err := v.Err(); err != nil {
			return toJSError(err)
		}
		return nil
	})
	m.set("close", func([]js.Value) any {
		return promise(func() (any, error) {
			select {
			case <-r.quit:
			default:
				close(r.quit)
			}
			return nil, v.Close()
		})
	})
	return r
}

func (r *rowsHandle) watch(ctx context.Context, onChange js.Value) {
	for {
		changed := r.v.Changed()
		select {
		case <-changed:
		case <-r.quit:
			return
		case <-ctx.Done():
			return
		}
		select {
		case <-r.quit:
			return
		default:
		}
		if err := r.v.Err(); err != nil {
			callJS(onChange, nil, false, toJSError(err))
			return
		}
		callJS(onChange, string(appendRows(nil, r.v.Rows())), r.v.Ready())
	}
}
