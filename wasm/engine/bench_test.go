package main

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
	"github.com/kalamgo/kalam/transport/wire"
)

func benchFrame(buf []byte, seq int64) []byte {
	buf = append(buf[:0], `{"type":"change","subscription_id":"orders-live","change_type":"insert","rows":[{"id":"12345","customer":"c-42","status":"open","total":"199.90","items":3,"note":"leave it at the door","created_at":1777971600000000,"paid":false,"_seq":"`...)
	buf = strconv.AppendInt(buf, seq, 10)
	return append(buf, `","_deleted":false}]}`...)
}

func liveGuest(b *testing.B) *guest {
	g := &guest{}
	if err := abi.DecodeStatus(g.init(abi.AppendConfig(nil, fsm.Config{}))); err != nil {
		b.Fatal(err)
	}
	steps := []fsm.Input{
		fsm.SetCredentials{Credentials: auth.Credentials{AccessToken: auth.NewSecret("tok"), Lifetime: time.Hour}},
		fsm.SetNamespace{Namespace: "app"},
		fsm.Subscribe{ID: "orders-live", SQL: "SELECT * FROM app.orders"},
		fsm.Dialed{Epoch: 1},
		fsm.FrameReceived{Epoch: 1, Data: []byte(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)},
		fsm.FrameReceived{Epoch: 1, Data: []byte(`{"type":"subscription_ack","subscription_id":"orders-live","total_rows":0,"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":0},"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk"]}]}`)},
	}
	for _, in := range steps {
		req, _ := abi.AppendInput(nil, 0, in)
		if _, err := abi.DecodeStep(g.step(req), nil); err != nil {
			b.Fatal(err)
		}
	}
	if g.eng.State() != fsm.StateLive {
		b.Fatal(g.eng.State())
	}
	return g
}

// BenchmarkGuest measures the guest's side of a live change step, run as a
// wasip1 test binary under a WASI runtime to get guest-only costs (and
// natively for the same code's reference): the whole step without and with
// the host's frame index, and its parts (decoding the request, the engine's
// Step, encoding the response).
func BenchmarkGuest(b *testing.B) {
	b.Run("step", func(b *testing.B) {
		g := liveGuest(b)
		seq := int64(309840000500000000)
		var buf, req []byte
		b.ReportAllocs()
		for b.Loop() {
			seq++
			buf = benchFrame(buf, seq)
			req, _ = abi.AppendInput(req[:0], time.Second, fsm.FrameReceived{Epoch: 1, Data: buf})
			g.step(req)
		}
	})
	b.Run("step-indexed", func(b *testing.B) {
		g := liveGuest(b)
		seq := int64(309840000500000000)
		var buf, req []byte
		var x wire.FrameIndex
		if !wire.IndexServer(benchFrame(nil, seq), &x) {
			b.Fatal("not indexed")
		}
		b.ReportAllocs()
		for b.Loop() {
			seq++ // the same length: the same index
			buf = benchFrame(buf, seq)
			req, _ = abi.AppendInput(req[:0], time.Second, fsm.FrameReceived{Epoch: 1, Data: buf, Index: &x})
			g.step(req)
		}
	})
	var x wire.FrameIndex
	if !wire.IndexServer(benchFrame(nil, 309840000500000000), &x) {
		b.Fatal("not indexed")
	}
	b.Run("decode-input", func(b *testing.B) {
		req, _ := abi.AppendInput(nil, time.Second, fsm.FrameReceived{Epoch: 1, Data: benchFrame(nil, 309840000500000000), Index: &x})
		var idx wire.FrameIndex
		b.ReportAllocs()
		for b.Loop() {
			abi.DecodeInputIndex(req, &idx)
		}
	})
	b.Run("engine-indexed", func(b *testing.B) {
		g := liveGuest(b)
		seq := int64(309840000500000000)
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			seq++
			buf = benchFrame(buf, seq)
			g.eng.Step(time.Second, fsm.FrameReceived{Epoch: 1, Data: buf, Index: &x})
		}
	})
	b.Run("engine-pong", func(b *testing.B) {
		g := liveGuest(b)
		b.ReportAllocs()
		for b.Loop() {
			g.eng.Step(time.Second, fsm.PongReceived{Epoch: 9})
		}
	})
	b.Run("encode", func(b *testing.B) {
		g := liveGuest(b)
		effs, _ := g.eng.Step(time.Second, fsm.FrameReceived{Epoch: 1, Data: benchFrame(nil, 309840000600000000)})
		effs = slices.Clone(effs)
		var out []byte
		b.ReportAllocs()
		for b.Loop() {
			out, _ = abi.AppendStep(out[:0], nil, fsm.StateLive, effs)
		}
	})
}
