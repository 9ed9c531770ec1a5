package kalam

import (
	"runtime"
	"sync"
	"testing"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

func TestEventQueueOrderLimitAndGrowth(t *testing.T) {
	q := newEventQueue(10, 1<<30)
	for round := range 3 { // wrap the ring and release it between rounds
		for i := range 10 {
			if !q.push(fsm.Event{Seq: wire.SeqID(round*100 + i)}) {
				t.Fatalf("round %d: push %d refused below the limit", round, i)
			}
		}
		if q.push(fsm.Event{}) || q.len() != 10 {
			t.Fatalf("round %d: the limit did not hold (len %d)", round, q.len())
		}
		for i := range 5 {
			if ev, ok := q.pop(); !ok || ev.Seq != wire.SeqID(round*100+i) {
				t.Fatalf("round %d: pop %d = %v,%v", round, i, ev.Seq, ok)
			}
		}
		for i := range 5 { // wraps around the ring
			q.push(fsm.Event{Seq: wire.SeqID(round*100 + 10 + i)})
		}
		for i := 5; i < 15; i++ {
			if ev, ok := q.pop(); !ok || ev.Seq != wire.SeqID(round*100+i) {
				t.Fatalf("round %d: pop %d = %v,%v", round, i, ev.Seq, ok)
			}
		}
		if _, ok := q.pop(); ok {
			t.Fatal("pop from an empty queue")
		}
	}
}

func TestEventQueueConcurrentProducerConsumer(t *testing.T) {
	q := newEventQueue(8, 1<<30)
	const n = 10000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; {
			if q.push(fsm.Event{Seq: wire.SeqID(i)}) {
				i++
			} else {
				runtime.Gosched() // full: let the consumer run (js/wasm has one thread)
			}
		}
	}()
	for next := 0; next < n; {
		ev, ok := q.pop()
		if !ok {
			<-q.ready
			continue
		}
		if ev.Seq != wire.SeqID(next) {
			t.Fatalf("got %d, want %d", ev.Seq, next)
		}
		next++
	}
	wg.Wait()
}

func TestIdleEventQueueIsSmall(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _ = newEventQueue(0, DefaultBufferBytes) })
	if allocs > 2 {
		t.Fatalf("an idle queue takes %v allocations", allocs)
	}
}
