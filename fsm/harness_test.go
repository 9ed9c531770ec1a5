package fsm

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/wire"
)

// harness drives an Engine through Step the way a driver would, recording
// effects and armed timers. It is a test double for the driver only; the
// engine under test is real.
type harness struct {
	t      testing.TB
	e      *Engine
	now    time.Duration
	last   []Effect
	timers map[Timer]SetTimer
}

func newHarness(t testing.TB, cfg Config) *harness {
	return &harness{t: t, e: New(cfg), timers: map[Timer]SetTimer{}}
}

func (h *harness) stepErr(in Input) ([]Effect, error) {
	h.t.Helper()
	effs, err := h.e.Step(h.now, in)
	h.last = append([]Effect(nil), effs...)
	for _, eff := range h.last {
		switch eff := eff.(type) {
		case SetTimer:
			h.timers[eff.Timer] = eff
		case CancelTimer:
			delete(h.timers, eff.Timer)
		}
	}
	if err := h.e.CheckInvariants(); err != nil {
		h.t.Fatalf("invariant broken after %T: %v", in, err)
	}
	if err := h.e.CheckLiveness(); err != nil {
		h.t.Fatalf("liveness broken after %T: %v", in, err)
	}
	return h.last, err
}

func (h *harness) step(in Input) []Effect {
	h.t.Helper()
	effs, err := h.stepErr(in)
	if err != nil {
		h.t.Fatalf("Step(%T) = %v", in, err)
	}
	return effs
}

// fire fires an armed timer, moving time to its deadline.
func (h *harness) fire(tm Timer) []Effect {
	h.t.Helper()
	st, ok := h.timers[tm]
	if !ok {
		h.t.Fatalf("timer %v is not armed (armed: %v)", tm, h.timers)
	}
	delete(h.timers, tm)
	h.now = max(h.now, st.At)
	return h.step(TimerFired{Timer: tm, Gen: st.Gen})
}

func (h *harness) frame(data string) []Effect {
	h.t.Helper()
	return h.step(FrameReceived{Epoch: h.e.Epoch(), Data: []byte(data)})
}

func (h *harness) state(want State) {
	h.t.Helper()
	if h.e.State() != want {
		h.t.Fatalf("state = %v, want %v", h.e.State(), want)
	}
}

func find[T Effect](effs []Effect) (T, bool) {
	for _, e := range effs {
		if v, ok := e.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func all[T Effect](effs []Effect) []T {
	var out []T
	for _, e := range effs {
		if v, ok := e.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func must[T Effect](h *harness, effs []Effect) T {
	h.t.Helper()
	v, ok := find[T](effs)
	if !ok {
		var zero T
		h.t.Fatalf("no %T among %s", zero, describe(effs))
	}
	return v
}

func none[T Effect](h *harness, effs []Effect) {
	h.t.Helper()
	if v, ok := find[T](effs); ok {
		h.t.Fatalf("unexpected %T %+v among %s", v, v, describe(effs))
	}
}

func describe(effs []Effect) string {
	parts := make([]string, len(effs))
	for i, e := range effs {
		parts[i] = fmt.Sprintf("%T", e)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// sent decodes the client message of a Send effect.
func sent(h *harness, s Send) wire.ClientMessage {
	h.t.Helper()
	var m wire.ClientMessage
	if err := json.Unmarshal(s.Data, &m); err != nil {
		h.t.Fatalf("Send holds invalid JSON: %v", err)
	}
	return m
}

func creds(tok string, life time.Duration) auth.Credentials {
	return auth.Credentials{AccessToken: auth.NewSecret(tok), Lifetime: life}
}

// live brings a fresh engine to StateLive with one subscription "s1" whose
// initial load has completed at position 300.
func live(t testing.TB, cfg Config) *harness {
	h := newHarness(t, cfg)
	h.step(Start{})
	h.step(SetCredentials{Credentials: creds("tok-1", time.Hour)})
	h.step(SetNamespace{Namespace: "app"})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM orders", Options: &wire.SubscriptionOptions{}})
	h.step(Dialed{Epoch: h.e.Epoch()})
	h.frame(`{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	h.frame(ackJSON("s1", false, 300))
	h.frame(batchJSON("s1", 0, false, 100, 200, 300))
	h.state(StateLive)
	return h
}

func ackJSON(id string, more bool, last int64) string {
	return fmt.Sprintf(`{"type":"subscription_ack","subscription_id":%q,"total_rows":0,"batch_control":{"batch_num":0,"has_more":%t,"status":"loading","last_seq_id":%d},"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]}]}`, id, more, last)
}

func batchJSON(id string, num int, more bool, seqs ...int64) string {
	rows := make([]string, len(seqs))
	for i, s := range seqs {
		rows[i] = fmt.Sprintf(`{"id":"%d","_seq":"%d","_deleted":false}`, s, s)
	}
	last := "null"
	if len(seqs) > 0 {
		last = fmt.Sprint(seqs[len(seqs)-1])
	}
	status := "ready"
	if more {
		status = "loading"
	}
	return fmt.Sprintf(`{"type":"initial_data_batch","subscription_id":%q,"rows":[%s],"batch_control":{"batch_num":%d,"has_more":%t,"status":%q,"last_seq_id":%s}}`, id, strings.Join(rows, ","), num, more, status, last)
}

func changeJSON(id, kind string, seq int64) string {
	switch kind {
	case "delete":
		return fmt.Sprintf(`{"type":"change","subscription_id":%q,"change_type":"delete","old_values":[{"id":"%d","_seq":"%d","_deleted":true}]}`, id, seq, seq)
	case "update":
		return fmt.Sprintf(`{"type":"change","subscription_id":%q,"change_type":"update","rows":[{"id":"%d","_seq":"%d"}],"old_values":[{"id":"%d","_seq":"%d"}]}`, id, seq, seq, seq, seq-1)
	}
	return fmt.Sprintf(`{"type":"change","subscription_id":%q,"change_type":"insert","rows":[{"id":"%d","_seq":"%d","_deleted":false}]}`, id, seq, seq)
}
