package fsm

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

const authOK = `{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`

func errorJSON(id, code, msg string) string {
	return fmt.Sprintf(`{"type":"error","subscription_id":%q,"code":%q,"message":%q}`, id, code, msg)
}

// subscribes returns the subscribe messages among effs.
func subscribes(h *harness, effs []Effect) []wire.ClientMessage {
	h.t.Helper()
	var out []wire.ClientMessage
	for _, s := range all[Send](effs) {
		if m := sent(h, s); m.Type == wire.TypeSubscribe {
			out = append(out, m)
		}
	}
	return out
}

func TestPacerSpacesFramesAndKeepsTheirOrder(t *testing.T) {
	h := newHarness(t, Config{FrameRate: 10, FrameBurst: 3})
	h.step(SetCredentials{Credentials: creds("tok", time.Hour)})
	h.step(SetNamespace{Namespace: "app"})
	for i := range 6 {
		h.step(Subscribe{ID: fmt.Sprint("s", i), SQL: "SELECT * FROM t"})
	}
	h.step(Dialed{Epoch: h.e.Epoch()})
	effs := h.frame(authOK)
	// The authenticate frame took one token of three: two leave at once.
	var ids []string
	for _, m := range subscribes(h, effs) {
		ids = append(ids, m.Subscription.ID)
	}
	if len(ids) != 2 {
		t.Fatalf("%d subscribes at once, want 2 (burst 3 less the authenticate frame)", len(ids))
	}
	start := h.now
	for len(ids) < 6 {
		before := h.now
		effs = h.fire(TimerPace)
		got := subscribes(h, effs)
		if len(got) != 1 {
			t.Fatalf("TimerPace let %d subscribes out, want 1", len(got))
		}
		if h.now-before != 100*time.Millisecond {
			t.Fatalf("frames %v apart, want 100ms at 10/s", h.now-before)
		}
		ids = append(ids, got[0].Subscription.ID)
	}
	for i, id := range ids {
		if id != fmt.Sprint("s", i) {
			t.Fatalf("order %v", ids)
		}
	}
	if h.now-start != 400*time.Millisecond {
		t.Fatalf("6 frames took %v", h.now-start)
	}
	if _, armed := h.timers[TimerPace]; armed {
		t.Fatal("TimerPace armed with nothing queued")
	}
}

func TestPacerCountsPingsAndDropsFramesOfAnOlderSocket(t *testing.T) {
	h := live(t, Config{FrameRate: 10, FrameBurst: 1, PingInterval: time.Second})
	must[Ping](h, h.fire(TimerPing))
	// The ping took the token: a subscribe waits for the next one.
	effs := h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t"})
	none[Send](h, effs)
	if at := h.timers[TimerPace].At; at != h.now+100*time.Millisecond {
		t.Fatalf("TimerPace at %v, want %v", at, h.now+100*time.Millisecond)
	}
	// The socket goes before the timer: nothing of it is ever sent.
	h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1006})
	none[Send](h, h.fire(TimerPace))
	h.fire(TimerBackoff)
	h.step(Dialed{Epoch: h.e.Epoch()})
	effs = h.frame(authOK)
	for _, s := range all[Send](effs) {
		if s.Epoch != h.e.Epoch() {
			t.Fatalf("frame of epoch %d sent on %d", s.Epoch, h.e.Epoch())
		}
	}
}

func TestUnsubscribeWithdrawsAQueuedSubscribe(t *testing.T) {
	h := live(t, Config{FrameRate: 10, FrameBurst: 2})
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t"})
	h.step(Subscribe{ID: "s3", SQL: "SELECT * FROM t"})
	effs := h.step(Unsubscribe{ID: "s2"})
	none[Send](h, effs) // the server never heard of s2: nothing to tell it
	var got []string
	for range 3 {
		if _, ok := h.timers[TimerPace]; !ok {
			break
		}
		for _, s := range all[Send](h.fire(TimerPace)) {
			m := sent(h, s)
			got = append(got, m.Type+" "+m.SubscriptionID)
			if m.Subscription != nil {
				got[len(got)-1] += m.Subscription.ID
			}
		}
	}
	if len(got) != 1 || got[0] != "subscribe s3" {
		t.Fatalf("sent %v, want only s3's subscribe", got)
	}
}

func TestRateLimitResendsWhatWasNotAcknowledged(t *testing.T) {
	h := live(t, Config{RateLimitPause: 2 * time.Second})
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t"})
	h.step(Subscribe{ID: "s3", SQL: "SELECT * FROM t", Options: &wire.SubscriptionOptions{}})
	h.frame(ackJSON("s2", false, 0))
	h.frame(ackJSON("s3", true, 10))
	effs := h.frame(batchJSON("s3", 0, true, 10))
	if m := sent(h, must[Send](h, effs)); m.Type != wire.TypeNextBatch {
		t.Fatalf("sent %+v", m)
	}
	h.step(Subscribe{ID: "s4", SQL: "SELECT * FROM t"}) // never acknowledged
	effs = h.frame(errorJSON(wire.PlaceholderRateLimit, wire.CodeRateLimitExceeded, "Too many messages"))
	none[Send](h, effs)
	if p := must[Problem](h, effs); !p.Recoverable {
		t.Fatalf("problem %+v", p)
	}
	if at := h.timers[TimerPace].At; at != h.now+2*time.Second {
		t.Fatalf("nothing may leave before the pause ends; TimerPace at %v", at)
	}
	effs = h.fire(TimerPace)
	var sentNow []wire.ClientMessage
	for _, s := range all[Send](effs) {
		sentNow = append(sentNow, sent(h, s))
	}
	if len(sentNow) != 3 {
		t.Fatalf("resent %d frames, want next_batch, unsubscribe and subscribe: %+v", len(sentNow), sentNow)
	}
	if m := sentNow[0]; m.Type != wire.TypeNextBatch || m.SubscriptionID != "s3" || *m.LastSeqID != 10 {
		t.Fatalf("first resend %+v", m)
	}
	if m := sentNow[1]; m.Type != wire.TypeUnsubscribe || m.SubscriptionID != "s4" {
		t.Fatalf("second resend %+v", m)
	}
	sub := sentNow[2].Subscription
	if sentNow[2].Type != wire.TypeSubscribe || sub == nil || sub.ID == "s4" {
		t.Fatalf("third resend %+v: a new incarnation needs a new wire id", sentNow[2])
	}
	// The old incarnation's ack, had the server seen it, is not taken.
	none[Deliver](h, h.frame(ackJSON("s4", false, 0)))
	d := must[Deliver](h, h.frame(ackJSON(sub.ID, false, 0)))
	if d.Sub != "s4" || d.Event.Kind != EventSubscribed {
		t.Fatalf("ack of the resend = %+v, want s4 subscribed", d)
	}
	// s3's batch answers the next_batch sent twice: only one chain goes on.
	effs = h.frame(batchJSON("s3", 1, true, 20))
	must[Send](h, effs)
	none[Send](h, h.frame(batchJSON("s3", 1, true, 20)))
}

func TestUnacknowledgedSubscriptionIsRetriedThenEndsWithATypedError(t *testing.T) {
	h := live(t, Config{AckTimeout: 2 * time.Second, SubscribeAttempts: 2})
	first := subscribes(h, h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t"}))
	if len(first) != 1 {
		t.Fatal("no subscribe")
	}
	h.now += time.Second
	h.frame(changeJSON("s1", "insert", 400)) // other traffic does not count
	effs := h.fire(TimerAck)
	if h.now != 2*time.Second {
		t.Fatalf("deadline fired at %v, want 2s after the subscribe left", h.now)
	}
	again := subscribes(h, effs)
	if len(again) != 1 || again[0].Subscription.ID == "s2" {
		t.Fatalf("retry = %+v", again)
	}
	effs = h.fire(TimerAck)
	d := must[Deliver](h, effs)
	if d.Sub != "s2" || d.Event.Kind != EventEnded || !errors.Is(d.Event.Err, ErrSubscribeTimeout) {
		t.Fatalf("end = %+v", d)
	}
	var te *SubscribeTimeoutError
	if !errors.As(d.Event.Err, &te) || te.Attempts != 2 {
		t.Fatalf("err = %#v", d.Event.Err)
	}
	if m := sent(h, must[Send](h, effs)); m.Type != wire.TypeUnsubscribe || m.SubscriptionID != again[0].Subscription.ID {
		t.Fatalf("the unanswered incarnation is not unsubscribed: %+v", m)
	}
	if _, ok := h.e.subs["s2"]; ok {
		t.Fatal("s2 still registered")
	}
}

func TestSubscriptionCapsEndAtOnceWithATypedError(t *testing.T) {
	for _, c := range []struct{ code, msg string }{
		{wire.CodeUnsupported, "Invalid operation: Maximum subscriptions (100) per connection exceeded"},
		{wire.CodeSubscriptionLimitExceeded, "Maximum subscriptions reached"},
	} {
		h := live(t, Config{})
		h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t"})
		d := must[Deliver](h, h.frame(errorJSON("s2", c.code, c.msg)))
		if d.Event.Kind != EventError || !errors.Is(d.Event.Err, ErrSubscriptionLimit) {
			t.Fatalf("%s: %+v", c.code, d.Event)
		}
		// Not retried: no ack deadline, no resubscribe after a reconnect.
		h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1006})
		h.fire(TimerBackoff)
		h.step(Dialed{Epoch: h.e.Epoch()})
		for _, m := range subscribes(h, h.frame(authOK)) {
			if m.Subscription.ID == "s2" {
				t.Fatalf("%s: s2 subscribed again", c.code)
			}
		}
	}
	other := &ServerError{Code: wire.CodeUnsupported, Message: "last_rows (5) cannot exceed batch_size (2)"}
	if errors.Is(other, ErrSubscriptionLimit) {
		t.Fatal("an unrelated UNSUPPORTED matches ErrSubscriptionLimit")
	}
}
