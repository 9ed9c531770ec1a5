//go:build js && wasm

package main

import (
	"context"
	"syscall/js"

	"github.com/kalamgo/kalam"
)

// maxBatch bounds the events handed to JavaScript by one next().
const maxBatch = 512

type subItem struct {
	ev  kalam.Event
	err error
}

// subHandle is a subscription as JavaScript holds it. JavaScript pulls:
// next() resolves to every event buffered at that moment (one JSON array),
// so a slow consumer leaves events in the subscription's bounded buffer,
// which pauses and later resumes the subscription instead of growing a
// queue on the JavaScript side. One next() runs at a time (bindings/js
// makes sure), so pending needs no lock.
type subHandle struct {
	sub     *kalam.Subscription
	m       *methods
	items   chan subItem
	quit    chan struct{}
	pending error
}

func newSubHandle(ctx context.Context, sub *kalam.Subscription) *subHandle {
	s := &subHandle{sub: sub, m: newMethods(), items: make(chan subItem, 64), quit: make(chan struct{})}
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
	m.set("next", func([]js.Value) any { return promise(s.next) })
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

// next waits for at least one event and returns all that are ready, as a
// JSON array; undefined once the subscription has ended.
func (s *subHandle) next() (any, error) {
	if err := s.pending; err != nil {
		s.pending = nil
		return nil, err
	}
	it, ok := <-s.items
	if !ok {
		return nil, nil
	}
	if it.err != nil {
		return nil, it.err
	}
	evs := []kalam.Event{it.ev}
more:
	for len(evs) < maxBatch {
		select {
		case it, ok := <-s.items:
			if !ok {
				break more
			}
			if it.err != nil {
				s.pending = it.err
				break more
			}
			evs = append(evs, it.ev)
		default:
			break more
		}
	}
	return string(appendEvents(make([]byte, 0, 256*len(evs)), evs)), nil
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
