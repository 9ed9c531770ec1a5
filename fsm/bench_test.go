package fsm

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// benchFrame is a realistic live insert: ten columns, about 300 bytes.
const benchFrame = `{"type":"change","subscription_id":"orders-live","change_type":"insert","rows":[{"id":"12345","customer":"c-42","status":"open","total":"199.90","items":3,"note":"leave it at the door","created_at":1777971600000000,"paid":false,"_seq":"309840000500000000","_deleted":false}]}`

func liveForBench(b *testing.B) (*Engine, *sub) {
	h := newHarness(b, Config{})
	h.step(SetCredentials{Credentials: creds("tok", time.Hour)})
	h.step(SetNamespace{Namespace: "app"})
	h.step(Subscribe{ID: "orders-live", SQL: "SELECT * FROM app.orders"})
	h.step(Dialed{Epoch: h.e.Epoch()})
	h.frame(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	h.frame(ackJSON("orders-live", false, 0))
	if h.e.State() != StateLive {
		b.Fatalf("state %v", h.e.State())
	}
	return h.e, h.e.subs["orders-live"]
}

// BenchmarkStepChange measures Step for one live change frame: decode,
// replay filter, position update and the Deliver effect.
func BenchmarkStepChange(b *testing.B) {
	e, s := liveForBench(b)
	in := FrameReceived{Epoch: e.Epoch(), Data: []byte(benchFrame)}
	now := time.Second
	b.SetBytes(int64(len(benchFrame)))
	b.ReportAllocs()
	for b.Loop() {
		s.hasPos = false // the same frame again must not count as a replay
		e.rep.burstN = 0 // nor, at the same instant, as a burst
		effs, _ := e.Step(now, in)
		if len(effs) != 1 {
			b.Fatalf("effects = %d", len(effs))
		}
	}
}

// BenchmarkDecodeChangeStruct is the reference for BenchmarkStepChange:
// encoding/json alone decoding the same frame into the same message type.
func BenchmarkDecodeChangeStruct(b *testing.B) {
	data := []byte(benchFrame)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m wire.ServerMessage
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeChangeMap decodes the same frame into map[string]any, what
// a client without typed messages does.
func BenchmarkDecodeChangeMap(b *testing.B) {
	data := []byte(benchFrame)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransition measures one lifecycle transition through the
// stateless machine with its guards, actions and effects: Connected → Live
// and back, reported per transition.
func BenchmarkTransition(b *testing.B) {
	e := forced(StateConnected)
	e.sockOpen = true
	b.ReportAllocs()
	for b.Loop() {
		e.out = e.out[:0]
		if err := e.fire(TriggerSubscribe); err != nil {
			b.Fatal(err)
		}
		if err := e.fire(TriggerUnsubscribeAll); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/transition")
}
