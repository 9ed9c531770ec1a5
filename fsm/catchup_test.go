package fsm

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// t0 is a commit time in Unix milliseconds for realistic Snowflake seqs.
const t0 = int64(1_780_000_000_000)

// snow returns the _seq minted ms after t0 with sequence n.
func snow(ms int64, n int64) int64 { return int64(wire.MakeSeqID(t0+ms, 1, n)) }

// resubscribed checks that effs hold a catch-up round for id: an unsubscribe
// of the old incarnation, then a subscribe of a new one from pos. It returns
// the new wire id.
func resubscribed(h *harness, effs []Effect, oldWire string, pos int64) string {
	h.t.Helper()
	sends := all[Send](effs)
	if len(sends) != 2 {
		h.t.Fatalf("%d frames sent, want unsubscribe + subscribe: %s", len(sends), describe(effs))
	}
	if m := sent(h, sends[0]); m.Type != wire.TypeUnsubscribe || m.SubscriptionID != oldWire {
		h.t.Fatalf("first frame %+v, want unsubscribe %s", m, oldWire)
	}
	m := sent(h, sends[1])
	if m.Type != wire.TypeSubscribe || m.Subscription.ID == oldWire || m.Subscription.Options == nil ||
		m.Subscription.Options.From == nil || int64(*m.Subscription.Options.From) != pos {
		h.t.Fatalf("second frame %+v, want a subscribe of a new incarnation from %d", m.Subscription, pos)
	}
	return m.Subscription.ID
}

// delivered returns the _seq of every row delivered among effs.
func delivered(effs []Effect) []int64 {
	var out []int64
	for _, d := range all[Deliver](effs) {
		rows := d.Event.Rows
		if d.Event.Kind == EventDelete {
			rows = d.Event.OldValues
		}
		for _, r := range rows {
			seq, _, _ := wire.RowSeq(r)
			out = append(out, int64(seq))
		}
	}
	return out
}

func TestCongestionCatchesUpAndRepeatsUntilAReplayBringsNothing(t *testing.T) {
	h := live(t, Config{FrameRate: -1})
	h.now += time.Second                            // past the flush that follows s1's load
	h.frame(changeJSON("s1", "insert", snow(0, 1))) // lag L: the smallest
	h.now += 100 * time.Millisecond
	none[Send](h, h.frame(changeJSON("s1", "insert", snow(100, 1)))) // lag L again
	h.now += 2 * time.Second
	pos := snow(100, 1)
	late := snow(150, 1) // arrives 1.95 s later than the smallest lag says
	effs := h.frame(changeJSON("s1", "insert", late))
	if got := delivered(effs); len(got) != 0 {
		t.Fatalf("the late change is delivered (%v): the server may have dropped changes before it", got)
	}
	w := resubscribed(h, effs, "s1", pos)

	d := must[Deliver](h, h.frame(ackJSON(w, false, 0)))
	if d.Event.Kind != EventResumed || d.Event.Continuity != ContinuityNoDeletes || int64(d.Event.From) != pos {
		t.Fatalf("catch-up ack = %+v, want resumed from %d, deletes may be missing", d.Event, pos)
	}
	// The replay holds what was delivered (at and below pos), what the
	// server dropped before the late change, and the late change: the
	// last two are delivered, in order.
	dropped := snow(120, 1)
	effs = h.frame(batchJSON(w, 0, false, snow(0, 1), pos, dropped, late))
	if got := fmt.Sprint(delivered(effs)); got != fmt.Sprint([]int64{dropped, late}) {
		t.Fatalf("replay delivered %v, want [%d %d]", got, dropped, late)
	}
	dropped = late
	// It found something: another round after CatchUpDelay.
	if at := h.timers[TimerCatchUp].At; at != h.now+DefaultCatchUpDelay {
		t.Fatalf("next round at %v, want %v", at, h.now+DefaultCatchUpDelay)
	}
	w2 := resubscribed(h, h.fire(TimerCatchUp), w, dropped)
	h.frame(ackJSON(w2, false, 0))
	none[Deliver](h, h.frame(changeJSON(w, "insert", snow(170, 1)))) // the old incarnation's
	effs = h.frame(batchJSON(w2, 0, false))
	if got := delivered(effs); len(got) != 0 {
		t.Fatalf("empty replay delivered %v", got)
	}
	if _, armed := h.timers[TimerCatchUp]; armed {
		t.Fatal("a replay that brought nothing must end the catch-up")
	}
	if got := h.e.Repair().CatchUps; got != 2 {
		t.Fatalf("%d rounds, want 2", got)
	}
}

func TestCongestionActsOnEverySubscriptionAndBacksOff(t *testing.T) {
	h := live(t, Config{FrameRate: -1, BackoffMax: 10 * time.Second})
	h.now += time.Second
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t"})
	h.frame(ackJSON("s2", false, 0))
	h.frame(changeJSON("s2", "insert", snow(0, 1)))
	h.now += 3 * time.Second
	h.frame(changeJSON("s1", "insert", snow(10, 1)))
	effs := h.last
	var unsubs []string
	for _, s := range all[Send](effs) {
		if m := sent(h, s); m.Type == wire.TypeUnsubscribe {
			unsubs = append(unsubs, m.SubscriptionID)
		}
	}
	if strings.Join(unsubs, ",") != "s1,s2" {
		t.Fatalf("congestion caught up %v, want both subscriptions", unsubs)
	}
	// More late changes right after do not start another episode.
	for _, s := range subscribes(h, effs) {
		h.frame(ackJSON(s.Subscription.ID, false, 0))
	}
	h.now += 10 * time.Millisecond
	for _, s := range subscribes(h, effs) {
		none[Send](h, h.frame(changeJSON(s.Subscription.ID, "insert", snow(20, 2))))
	}
}

func TestLoadBufferOverflowCatchesUp(t *testing.T) {
	h := live(t, Config{FrameRate: -1, LoadBuffer: 4})
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t", Options: &wire.SubscriptionOptions{}})
	h.frame(ackJSON("s2", false, 0))
	h.frame(batchJSON("s2", 0, false, snow(0, 1)))
	// The flush right after the last batch: 4 changes, the cap. The server
	// dropped the oldest, all below the flushed ones: nothing of the flush
	// is delivered, and the catch-up starts from the snapshot's end.
	var effs []Effect
	for i := range 4 {
		effs = h.frame(changeJSON("s2", "insert", snow(1, int64(2+i))))
		none[Deliver](h, effs)
		if i < 3 {
			none[Send](h, effs)
		}
	}
	w := resubscribed(h, effs, "s2", snow(0, 1))
	h.frame(ackJSON(w, false, 0))
	all := []int64{snow(0, 9), snow(1, 2), snow(1, 3), snow(1, 4), snow(1, 5)}
	if got := fmt.Sprint(delivered(h.frame(batchJSON(w, 0, false, all...)))); got != fmt.Sprint(all) {
		t.Fatalf("replay delivered %v, want %v", got, all)
	}
}

func TestAFlushBelowTheCapIsDeliveredWhenNothingFollows(t *testing.T) {
	h := live(t, Config{FrameRate: -1, LoadBuffer: 4})
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t", Options: &wire.SubscriptionOptions{}})
	h.frame(ackJSON("s2", false, 0))
	h.frame(batchJSON("s2", 0, false, snow(0, 1)))
	for i := range 2 {
		none[Deliver](h, h.frame(changeJSON("s2", "insert", snow(1, int64(2+i)))))
	}
	effs := h.fire(TimerCatchUp)
	if got := fmt.Sprint(delivered(effs)); got != fmt.Sprint([]int64{snow(1, 2), snow(1, 3)}) {
		t.Fatalf("held flush delivered %v", got)
	}
	none[Send](h, effs)
}

func TestFlushBelowTheCapAndLaterChangesDoNotCatchUp(t *testing.T) {
	h := live(t, Config{FrameRate: -1, LoadBuffer: 4})
	h.now += time.Second
	h.frame(changeJSON("s1", "insert", snow(0, 1))) // a lag to judge by
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t", Options: &wire.SubscriptionOptions{}})
	h.frame(ackJSON("s2", false, 0))
	h.frame(batchJSON("s2", 0, false, snow(0, 2)))
	for i := range 3 {
		none[Send](h, h.frame(changeJSON("s2", "insert", snow(0, int64(3+i)))))
	}
	// Committed after the last batch arrived: live, not part of the flush,
	// which it releases first.
	h.now += 50 * time.Millisecond
	effs := h.frame(changeJSON("s2", "insert", snow(50, 1)))
	none[Send](h, effs)
	want := []int64{snow(0, 3), snow(0, 4), snow(0, 5), snow(50, 1)}
	if got := fmt.Sprint(delivered(effs)); got != fmt.Sprint(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

func TestSignOfDropsDuringALoadCatchesUpAfterIt(t *testing.T) {
	h := live(t, Config{FrameRate: -1, LoadBuffer: 2})
	h.now += time.Second
	h.frame(changeJSON("s1", "insert", snow(0, 1)))
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t", Options: &wire.SubscriptionOptions{}})
	h.frame(ackJSON("s2", true, snow(0, 2)))
	h.frame(batchJSON("s2", 0, true, snow(0, 2)))
	// Congestion while s2 loads: s1 catches up now, s2 after its load.
	h.now += 2 * time.Second
	effs := h.frame(changeJSON("s1", "insert", snow(10, 1)))
	for _, m := range subscribes(h, effs) {
		if strings.HasPrefix(m.Subscription.ID, "s2") {
			t.Fatal("a loading subscription resubscribed in the middle of its load")
		}
	}
	h.frame(batchJSON("s2", 1, false, snow(5, 1)))
	if _, armed := h.timers[TimerCatchUp]; !armed {
		t.Fatal("no round after the load")
	}
	resubscribed(h, h.fire(TimerCatchUp), "s2", snow(5, 1))
}

func TestCatchUpRoundsGoOnWhileReplaysBringRowsAndAResumeIsNotRepeated(t *testing.T) {
	h := live(t, Config{FrameRate: -1, CatchUpRounds: 2, CatchUpDelay: 100 * time.Millisecond})
	h.now += time.Second
	h.frame(changeJSON("s1", "insert", snow(0, 1)))
	h.now += 2 * time.Second
	pos := snow(0, 1)
	w := resubscribed(h, h.frame(changeJSON("s1", "insert", snow(10, 1))), "s1", pos)
	var delays []time.Duration
	for round := 0; round < 6; round++ {
		h.frame(ackJSON(w, false, 0))
		pos = snow(int64(20+round*10), 1)
		h.frame(batchJSON(w, 0, false, pos)) // always something new
		st, armed := h.timers[TimerCatchUp]
		if !armed {
			t.Fatalf("round %d brought rows but no further round is due: the repair gave up", round)
		}
		delays = append(delays, st.At-h.now)
		w = resubscribed(h, h.fire(TimerCatchUp), w, pos)
	}
	// Doubling CatchUpRounds times, then at that delay: bounded by the
	// backoff, not by giving up.
	if fmt.Sprint(delays) != "[100ms 200ms 400ms 400ms 400ms 400ms]" {
		t.Fatalf("follow-up delays %v, want [100ms 200ms 400ms 400ms 400ms 400ms]", delays)
	}
	h.frame(ackJSON(w, false, 0))
	h.frame(batchJSON(w, 0, false)) // nothing new: the episode ends
	if _, armed := h.timers[TimerCatchUp]; armed {
		t.Fatal("a replay that brought nothing was followed by another round")
	}
	// A resume after a reconnect that brings rows is not repeated: the
	// outage explains them.
	h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1006})
	h.fire(TimerBackoff)
	h.step(Dialed{Epoch: h.e.Epoch()})
	w = subscribes(h, h.frame(authOK))[0].Subscription.ID
	h.frame(ackJSON(w, false, 0))
	h.frame(batchJSON(w, 0, false, snow(500, 1)))
	if _, armed := h.timers[TimerCatchUp]; armed {
		t.Fatal("a resume that brought rows is followed by a catch-up round")
	}
}

func TestPauseResumeReplayDropsWhatWasDelivered(t *testing.T) {
	h := live(t, Config{FrameRate: -1})
	h.frame(changeJSON("s1", "insert", 400))
	h.frame(changeJSON("s1", "insert", 500))
	h.step(Pause{ID: "s1", Position: 400, HasPosition: true})
	m := subscribes(h, h.step(Resume{ID: "s1"}))[0]
	if *m.Subscription.Options.From != 400 {
		t.Fatalf("resumed from %v", *m.Subscription.Options.From)
	}
	w := m.Subscription.ID
	if w == "s1" {
		t.Fatal("the resume reuses the paused incarnation's wire id on the same socket")
	}
	h.frame(ackJSON(w, false, 0))
	// A replay holding rows at and below the resume position: they were
	// delivered (up to 400) and must not come again.
	effs := h.frame(batchJSON(w, 0, false, 300, 400, 500, 600))
	if got := fmt.Sprint(delivered(effs)); got != "[500 600]" {
		t.Fatalf("replay delivered %v, want [500 600]", got)
	}
	// A change replayed at or below the position after the load: dropped.
	none[Deliver](h, h.frame(changeJSON(w, "insert", 600)))
	none[Deliver](h, h.frame(changeJSON(w, "update", 550)))
	if got := delivered(h.frame(changeJSON(w, "insert", 601))); fmt.Sprint(got) != "[601]" {
		t.Fatalf("new change delivered %v", got)
	}
}

func TestMultiRowChangeDeliversEachRowOnceInOrder(t *testing.T) {
	h := live(t, Config{FrameRate: -1})
	frame := `{"type":"change","subscription_id":"s1","change_type":"insert","rows":[` +
		`{"id":"1","_seq":"250"},{"id":"2","_seq":"310"},{"id":"3","_seq":"320"}]}`
	effs := h.frame(frame)
	ds := all[Deliver](effs)
	if len(ds) != 2 {
		t.Fatalf("%d events, want 2 (the row at 250 is below the position 300)", len(ds))
	}
	for i, want := range []int64{310, 320} {
		ev := ds[i].Event
		if ev.Kind != EventInsert || len(ev.Rows) != 1 || int64(ev.Seq) != want {
			t.Fatalf("event %d = %+v, want one row at %d", i, ev, want)
		}
	}
	del := `{"type":"change","subscription_id":"s1","change_type":"delete","old_values":[` +
		`{"id":"2","_seq":"330","_deleted":true},{"id":"3","_seq":"320","_deleted":true},{"id":"1","_seq":"340","_deleted":true}]}`
	if got := fmt.Sprint(delivered(h.frame(del))); got != "[330 340]" {
		t.Fatalf("deletes delivered %v, want [330 340]", got)
	}
	if got := fmt.Sprint(delivered(h.frame(frame))); got != "[]" {
		t.Fatalf("the same frame again delivered %v", got)
	}
}

func TestNoPositionAndNoSnapshotIsAnUnrepairableGap(t *testing.T) {
	h := live(t, Config{FrameRate: -1})
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t"}) // no snapshot
	h.frame(ackJSON("s2", false, 0))
	h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1006})
	h.fire(TimerBackoff)
	h.step(Dialed{Epoch: h.e.Epoch()})
	h.frame(authOK)
	d := must[Deliver](h, h.frame(ackJSON("s2", false, 0)))
	var gap *GapError
	if d.Event.Continuity != ContinuityBroken || !errors.As(d.Event.Err, &gap) || !errors.Is(d.Event.Err, ErrGap) || gap.Subscription != "s2" {
		t.Fatalf("resume = %+v, want broken with a *GapError", d.Event)
	}
}

func TestChangesAfterALateOneWaitForTheRound(t *testing.T) {
	h := live(t, Config{FrameRate: -1, CatchUpDelay: 2 * time.Second, BackoffMax: 8 * time.Second})
	h.now += time.Second
	h.frame(changeJSON("s1", "insert", snow(0, 1)))
	pos := snow(0, 1)
	// A first episode: the late change starts a round at once.
	h.now += 2 * time.Second
	w := resubscribed(h, h.frame(changeJSON("s1", "insert", snow(10, 1))), "s1", pos)
	h.frame(ackJSON(w, false, 0))
	h.frame(batchJSON(w, 0, false)) // nothing: the episode ends
	// Another late change (committed after that replay) while the
	// congestion backs off: no round yet, and nothing after it is
	// delivered, late or not, until the round replays it all from the
	// position before it.
	h.now += time.Second
	effs := h.frame(changeJSON(w, "insert", snow(2100, 1)))
	none[Deliver](h, effs)
	none[Send](h, effs)
	for i := range 3 {
		h.now += 10 * time.Millisecond
		none[Deliver](h, h.frame(changeJSON(w, "delete", snow(3000+int64(i)*10, 1))))
	}
	w2 := resubscribed(h, h.fire(TimerCatchUp), w, pos)
	if h.now != 5*time.Second {
		t.Fatalf("round at %v, want 5s (the backoff's end)", h.now)
	}
	h.frame(ackJSON(w2, false, 0))
	want := []int64{snow(2100, 1), snow(3000, 1)}
	if got := fmt.Sprint(delivered(h.frame(batchJSON(w2, 0, false, want...)))); got != fmt.Sprint(want) {
		t.Fatalf("replay delivered %v, want %v", got, want)
	}
}

func TestRateLimitHalvesTheSocketsRate(t *testing.T) {
	h := live(t, Config{FrameRate: 10, FrameBurst: 4, RateLimitPause: time.Second})
	h.frame(errorJSON(wire.PlaceholderRateLimit, wire.CodeRateLimitExceeded, "slow down"))
	h.fire(TimerPace)
	for i := range 3 {
		h.step(Subscribe{ID: fmt.Sprint("x", i), SQL: "SELECT * FROM t"})
	}
	// Burst 4 halves to 2, 100 ms spacing doubles to 200 ms.
	before := h.now
	h.fire(TimerPace)
	if d := h.now - before; d != 200*time.Millisecond {
		t.Fatalf("next frame %v later, want 200ms at half the rate", d)
	}
	// A new socket starts at the configured rate again.
	h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1006})
	h.fire(TimerBackoff)
	h.step(Dialed{Epoch: h.e.Epoch()})
	if got := len(subscribes(h, h.frame(authOK))); got != 3 {
		t.Fatalf("%d subscribes at once on a new socket, want 3 (burst 4 less the authenticate frame)", got)
	}
}

func TestALateFlushIsLeftToACatchUp(t *testing.T) {
	h := live(t, Config{FrameRate: -1})
	h.now += time.Second
	h.frame(changeJSON("s1", "insert", snow(0, 1))) // the smallest lag
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t", Options: &wire.SubscriptionOptions{}})
	h.frame(ackJSON("s2", true, snow(0, 2)))
	h.frame(batchJSON("s2", 0, true, snow(0, 2)))
	// The client sleeps 5 s; then the last batch, its flush and what
	// followed arrive at once. The flush's newest change is 5 s late: the
	// queue behind it may have overflowed.
	h.now += 5 * time.Second
	h.frame(batchJSON("s2", 1, false, snow(0, 3)))
	for i := range 2 {
		none[Deliver](h, h.frame(changeJSON("s2", "insert", snow(100, int64(i)))))
	}
	effs := h.frame(changeJSON("s2", "insert", snow(5100, 1))) // committed after the batch arrived
	none[Deliver](h, effs)
	// Every subscription on the socket catches up; s2 from the snapshot's
	// end, below the flush it never delivered.
	var from []string
	for _, m := range subscribes(h, effs) {
		from = append(from, fmt.Sprintf("%s@%d", strings.Split(m.Subscription.ID, "#")[0], *m.Subscription.Options.From))
	}
	if want := fmt.Sprintf("[s1@%d s2@%d]", snow(0, 1), snow(0, 3)); fmt.Sprint(from) != want {
		t.Fatalf("caught up %v, want %s", from, want)
	}
}
