package fsm

import (
	"fmt"
	"testing"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// The burst and flush checks: the server's outgoing queue (128 by
// default) can only overflow while nearly that many changes wait for the
// connection, so that many arriving without a quiet spell, or half that
// many flushed after a load, start a catch-up whatever the lag says.

func TestABurstThatCouldFillTheServersQueueCatchesUp(t *testing.T) {
	h := live(t, Config{FrameRate: -1})
	h.now += time.Second
	k := DefaultOutgoingQueue - DefaultOutgoingQueue/8
	var pos int64
	for i := range k - 1 { // 100 µs apart, committed together: no lag to speak of
		h.now += 100 * time.Microsecond
		pos = snow(0, int64(1+i))
		effs := h.frame(changeJSON("s1", "insert", pos))
		none[Send](h, effs)
		if got := delivered(effs); len(got) != 1 {
			t.Fatalf("change %d delivered %v", i, got)
		}
	}
	h.now += 100 * time.Microsecond
	effs := h.frame(changeJSON("s1", "insert", snow(0, int64(k))))
	if got := delivered(effs); len(got) != 0 {
		t.Fatalf("the change that completed the burst is delivered (%v): the server may have dropped changes before it", got)
	}
	w := resubscribed(h, effs, "s1", pos)
	d := must[Deliver](h, h.frame(ackJSON(w, false, 0)))
	if d.Event.Kind != EventResumed || d.Event.Continuity != ContinuityNoDeletes {
		t.Fatalf("catch-up ack = %+v, want resumed, deletes may be missing", d.Event)
	}
	dropped := snow(0, int64(k+5))
	effs = h.frame(batchJSON(w, 0, false, pos, snow(0, int64(k)), dropped))
	if got := fmt.Sprint(delivered(effs)); got != fmt.Sprint([]int64{snow(0, int64(k)), dropped}) {
		t.Fatalf("replay delivered %v", got)
	}
	if got := h.e.rep.bursts; got != 1 {
		t.Fatalf("%d bursts counted, want 1", got)
	}
}

func TestASteadyTrickleDoesNotCatchUp(t *testing.T) {
	h := live(t, Config{FrameRate: -1})
	h.now += time.Second
	// 50 changes/s for 100 s, none late: every change ends a quiet spell.
	n := 0
	for i := range 5000 {
		h.now += 20 * time.Millisecond
		effs := h.frame(changeJSON("s1", "insert", snow(int64(20*i), 1)))
		none[Send](h, effs)
		n += len(delivered(effs))
	}
	if n != 5000 {
		t.Fatalf("%d of 5000 changes delivered", n)
	}
	if st := h.e.Repair(); st.CatchUps != 0 || h.e.rep.bursts != 0 {
		t.Fatalf("a steady trickle caught up %d times (%d bursts)", st.CatchUps, h.e.rep.bursts)
	}
	if _, armed := h.timers[TimerCatchUp]; armed {
		t.Fatal("a round is due after a steady trickle")
	}
}

// loadS2 subscribes s2 with options and completes its load with the
// snapshot seqs (none: an empty table).
func loadS2(h *harness, seqs ...int64) {
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t", Options: &wire.SubscriptionOptions{}})
	h.frame(ackJSON("s2", false, 0))
	h.frame(batchJSON("s2", 0, false, seqs...))
}

func TestAFlushNearTheQueueSizeCatchesUp(t *testing.T) {
	// LoadBuffer 1,024: only the queue's size can tell. Bursts end after
	// 1 ms, so the flush's changes 2 ms apart are no burst.
	h := live(t, Config{FrameRate: -1, BurstGap: time.Millisecond})
	loadS2(h, snow(0, 1))
	k := DefaultOutgoingQueue / 2 // the flush goes through the queue, behind whatever it holds
	var effs []Effect
	for i := range k {
		h.now += 2 * time.Millisecond
		effs = h.frame(changeJSON("s2", "insert", snow(0, int64(2+i))))
		none[Deliver](h, effs)
		if i < k-1 {
			none[Send](h, effs)
		}
	}
	if h.e.rep.bursts != 0 {
		t.Fatal("the flush counted as a burst: this test is about the flush check")
	}
	w := resubscribed(h, effs, "s2", snow(0, 1))
	d := must[Deliver](h, h.frame(ackJSON(w, false, 0)))
	if d.Event.Continuity != ContinuityNoDeletes {
		t.Fatalf("continuity %v, want no-deletes", d.Event.Continuity)
	}
}

func TestARepairOfADroppedFlushSaysNoDeletes(t *testing.T) {
	h := live(t, Config{FrameRate: -1, BurstGap: time.Millisecond})
	loadS2(h)                     // an empty snapshot: no position to resume from
	k := DefaultOutgoingQueue / 2 // the flush goes through the queue, behind whatever it holds
	var effs []Effect
	for i := range k {
		h.now += 2 * time.Millisecond
		effs = h.frame(changeJSON("s2", "delete", snow(0, int64(2+i))))
	}
	var w string
	for _, m := range subscribes(h, effs) {
		w = m.Subscription.ID
	}
	if w == "" || w == "s2" {
		t.Fatalf("no catch-up round after a flush near the queue's size: %s", describe(effs))
	}
	d := must[Deliver](h, h.frame(ackJSON(w, false, 0)))
	if d.Event.Kind != EventResumed || d.Event.Continuity != ContinuityNoDeletes {
		t.Fatalf("repair of a dropped flush = %+v, want resumed with no-deletes (deletes of the flush were dropped)", d.Event)
	}
}
