package wazero

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
	"github.com/kalamgo/kalam/internal/abi/abitest"
	"github.com/kalamgo/kalam/transport/wire"
)

// The misbehaving guest (testdata/badguest), built on first use.
var bad struct {
	once          sync.Once
	wasm, version []byte
	err           error
}

func badGuest(t *testing.T) (wasm, wrongVersion []byte) {
	t.Helper()
	needGuest(t)
	bad.once.Do(func() {
		dir := t.TempDir()
		p1, p2 := filepath.Join(dir, "bad.wasm"), filepath.Join(dir, "bad-version.wasm")
		if bad.err = buildGuest("./testdata/badguest", p1); bad.err != nil {
			return
		}
		if bad.err = buildGuestWith("./testdata/badguest", p2, "-X main.startMode=x"); bad.err != nil {
			return
		}
		bad.wasm, bad.err = readFile(p1)
		if bad.err == nil {
			bad.version, bad.err = readFile(p2)
		}
	})
	if bad.err != nil {
		t.Fatalf("the bad guest did not build: %v", bad.err)
	}
	return bad.wasm, bad.version
}

const (
	modeGood = iota
	modePtrOutOfRange
	modeLenOutOfRange
	modeEmpty
	modeTruncated
	modeUnknownEffect
	modeUnknownStatus
	modePanic
	modeHang
	modeNoBuffer
	modeBufferOutOfRange
	modeBadEnum
	modeBatchShort
	modeBatchBroken
)

func setMode(t *testing.T, e *Engine, m int) {
	t.Helper()
	if _, err := e.mod.ExportedFunction("bad_mode").Call(context.Background(), uint64(m)); err != nil {
		t.Fatal(err)
	}
}

// TestBadGuestOutputGetsErrorCodes: each way a guest can answer wrongly
// ends in an *Error with its code, a Problem and a transition to Closed,
// never a panic; the engine then answers like a closed one.
func TestBadGuestOutputGetsErrorCodes(t *testing.T) {
	wasm, _ := badGuest(t)
	ctx := context.Background()
	// The interpreter: these cases need no speed, and it skips a compile.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
	defer r.Close(ctx)
	h, err := Instantiate(ctx, r, Config{Wasm: wasm, StepTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	big := fsm.FrameReceived{Epoch: 1, Data: make([]byte, 10000)} // makes the host ask for a bigger buffer
	cases := []struct {
		name string
		mode int
		in   fsm.Input
		want error
	}{
		{"pointer out of range", modePtrOutOfRange, fsm.Start{}, ErrOutOfRange},
		{"length out of range", modeLenOutOfRange, fsm.Start{}, ErrOutOfRange},
		{"no response", modeEmpty, fsm.Start{}, ErrTruncated},
		{"truncated response", modeTruncated, fsm.Start{}, ErrTruncated},
		{"unknown effect", modeUnknownEffect, fsm.Start{}, ErrUnknownTag},
		{"unknown status", modeUnknownStatus, fsm.Start{}, ErrUnknownTag},
		{"state out of range", modeBadEnum, fsm.Start{}, ErrBadValue},
		{"guest panics", modePanic, fsm.Start{}, ErrTrap},
		{"guest hangs", modeHang, fsm.Start{}, ErrTrap},
		{"no request buffer", modeNoBuffer, big, ErrOutOfRange},
		{"request buffer out of range", modeBufferOutOfRange, big, ErrOutOfRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := h.NewEngine(ctx, fsm.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close(ctx)
			if effs, err := e.Step(0, fsm.Start{}); err != nil || len(effs) != 2 {
				t.Fatalf("good step: %v %v", effs, err)
			}
			setMode(t, e, c.mode)
			effs, err := e.Step(time.Second, c.in)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if len(effs) != 2 || e.State() != fsm.StateClosed || !errors.Is(e.Err(), c.want) {
				t.Fatalf("effects %v, state %v", effs, e.State())
			}
			if p, ok := effs[0].(fsm.Problem); !ok || p.Recoverable {
				t.Fatalf("first effect %v", effs[0])
			}
			if sc, ok := effs[1].(fsm.StateChanged); !ok || sc.To != fsm.StateClosed {
				t.Fatalf("second effect %v", effs[1])
			}
			if _, err := e.Step(2*time.Second, fsm.Connect{}); !errors.Is(err, fsm.ErrClosed) {
				t.Fatalf("after the failure: %v", err)
			}
			if _, err := e.Step(2*time.Second, fsm.Close{}); err != nil {
				t.Fatalf("close after the failure: %v", err)
			}
		})
	}
}

func TestWrongVersionIsRefused(t *testing.T) {
	_, wasm := badGuest(t)
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	h, err := Instantiate(ctx, r, Config{Wasm: wasm})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.NewEngine(ctx, fsm.Config{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("got %v", err)
	}
	if _, err := Instantiate(ctx, r, Config{Wasm: []byte("\x00asm\x01\x00\x00\x00")}); !errors.Is(err, ErrVersion) {
		t.Fatalf("empty module: %v", err)
	}
	if _, err := Instantiate(ctx, r, Config{Wasm: []byte("not wasm")}); err == nil {
		t.Fatal("garbage compiled")
	}
}

// TestGuestRefusesBadRequests: the real guest answers garbage, truncated
// requests and pointers outside its buffer with a status code, and its
// engine keeps working.
func TestGuestRefusesBadRequests(t *testing.T) {
	h := sharedHost(t)
	ctx := context.Background()
	e, err := h.NewEngine(ctx, fsm.Config{Namespace: "app"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	r := rand.New(rand.NewPCG(1, 2))
	valid, _ := abi.AppendInput(nil, time.Second, fsm.Subscribe{ID: "s", SQL: "SELECT 1"})
	for i := range 2000 {
		var req []byte
		if i < len(valid) {
			req = valid[:i] // every truncation
		} else {
			req = make([]byte, r.IntN(40))
			for j := range req {
				req[j] = byte(r.UintN(256))
			}
		}
		resp, err := e.call(e.stepFn, req)
		if err != nil {
			t.Fatalf("request %d: the call failed: %v", i, err)
		}
		if _, err := abi.DecodeStep(resp, nil); err == nil {
			continue // garbage that happens to be a valid input
		} else if resp[0] == 0 {
			t.Fatalf("request %d: a response that does not decode: %v", i, err)
		}
	}
	// A pointer that is not the request buffer.
	e.stack[0], e.stack[1] = uint64(e.bufPtr+1), 4
	if err := e.invoke(e.stepFn); err != nil {
		t.Fatal(err)
	}
	resp, err := e.response(e.stack[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := abi.DecodeStep(resp, nil); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("foreign pointer: %v", err)
	}
	if err := e.Reset(fsm.Config{Namespace: "app"}); err != nil {
		t.Fatal(err)
	}
	// The engine still works.
	if _, err := e.Step(0, fsm.SetCredentials{Credentials: auth.Credentials{AccessToken: auth.NewSecret("t")}}); err != nil {
		t.Fatal(err)
	}
	if effs, err := e.Step(0, fsm.Subscribe{ID: "s", SQL: "SELECT 1"}); err != nil || e.State() != fsm.StateConnecting || len(effs) == 0 {
		t.Fatalf("after the garbage: %v %v %v", effs, err, e.State())
	}
	// A host value with no encoding is refused before it crosses, and is
	// not fatal.
	if _, err := e.Step(0, fsm.Query{ID: 1, SQL: "SELECT $1", Params: []any{func() {}}}); !errors.Is(err, ErrUnencodable) {
		t.Fatalf("unencodable parameter: %v", err)
	}
	if e.Err() != nil || e.State() != fsm.StateConnecting {
		t.Fatalf("the refusal ended the engine: %v", e.Err())
	}
	// A config the guest cannot read.
	e.req = append(e.req[:0], "{not json"...)
	resp, err = e.call(e.initFn, e.req)
	if err != nil {
		t.Fatal(err)
	}
	if err := abi.DecodeStatus(resp); !errors.Is(err, ErrBadConfig) || strings.Contains(err.Error(), "not json") {
		t.Fatalf("bad config: %v", err)
	}
}

// TestBadFrameIndex: an index that does not fit its frame is refused with
// a code and the engine keeps working; one that fits the checks but points
// at the wrong strings is caught by the engine, which then scans the frame
// itself, so the effects are the native engine's.
func TestBadFrameIndex(t *testing.T) {
	h := sharedHost(t)
	ctx := context.Background()
	e, err := h.NewEngine(ctx, fsm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	nat := fsm.New(fsm.Config{})
	both := func(in fsm.Input) ([]byte, []byte) {
		t.Helper()
		ne, nerr := nat.Step(time.Second, in)
		we, werr := e.Step(time.Second, in)
		if (nerr == nil) != (werr == nil) {
			t.Fatalf("%T: errors %v vs %v", in, nerr, werr)
		}
		nb, _ := abi.AppendStep(nil, nerr, nat.State(), ne)
		wb, _ := abi.AppendStep(nil, werr, e.State(), we)
		return nb, wb
	}
	for _, in := range []fsm.Input{
		fsm.SetCredentials{Credentials: auth.Credentials{AccessToken: auth.NewSecret("tok"), Lifetime: time.Hour}},
		fsm.SetNamespace{Namespace: "app"},
		fsm.Subscribe{ID: "orders-live", SQL: "SELECT * FROM app.orders"},
		fsm.Dialed{Epoch: 1},
		fsm.FrameReceived{Epoch: 1, Data: []byte(abitest.AuthOK)},
		fsm.FrameReceived{Epoch: 1, Data: []byte(`{"type":"subscription_ack","subscription_id":"orders-live","total_rows":0,"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":0},"schema":[]}`)},
	} {
		if nb, wb := both(in); !bytes.Equal(nb, wb) {
			t.Fatalf("%T: responses differ", in)
		}
	}
	if e.State() != fsm.StateLive {
		t.Fatalf("state %v", e.State())
	}
	frame := changeFrame(nil, 309840000500000001)
	var good wire.FrameIndex
	if !wire.IndexServer(frame, &good) {
		t.Fatal("frame not indexed")
	}
	// Past the end, off the delimiters, rows out of order: refused before
	// the engine sees the frame.
	for i, edit := range []func(x *wire.FrameIndex){
		func(x *wire.FrameIndex) { x.Rows[0].End = len(frame) + 10 },
		func(x *wire.FrameIndex) { x.Fields[wire.FieldSubscriptionID].Start++ },
		func(x *wire.FrameIndex) { x.Rows = append(x.Rows, x.Rows[0]) },
		func(x *wire.FrameIndex) { x.Rows[0].Seq = wire.Span{Start: 1, End: 3} },
	} {
		x := good
		x.Rows = slices.Clone(good.Rows)
		edit(&x)
		effs, err := e.Step(time.Second, fsm.FrameReceived{Epoch: 1, Data: frame, Index: &x})
		if !errors.Is(err, ErrOutOfRange) || len(effs) != 0 || e.Err() != nil {
			t.Fatalf("bad index %d: %v %v (engine error %v)", i, effs, err, e.Err())
		}
	}
	// Delimiters right, contents wrong: the subscription id's span covers
	// `"subscription_id":"orders-live"`, which is no JSON string. The
	// engine notices and scans; the result is the native engine's.
	x := good
	x.Rows = slices.Clone(good.Rows)
	x.Fields[wire.FieldSubscriptionID].Start = bytes.Index(frame, []byte(`"subscription_id"`))
	nb, wb := both(fsm.FrameReceived{Epoch: 1, Data: frame, Index: &x})
	if !bytes.Equal(nb, wb) || nat.State() != fsm.StateLive {
		t.Fatalf("lying index: responses differ (native state %v)", nat.State())
	}
	// The engine still takes frames with a good index.
	next := changeFrame(nil, 309840000500000002)
	if nb, wb := both(fsm.FrameReceived{Epoch: 1, Data: next}); !bytes.Equal(nb, wb) || e.Err() != nil {
		t.Fatalf("after the bad indexes: responses differ (%v)", e.Err())
	}
}

// TestBadGuestBatchGetsErrorCodes: a batch answered with the wrong number
// of responses, or with broken framing, is a fault like any other: the
// first input gets the Problem and the transition to Closed, the rest are
// answered like a closed engine, and nothing panics.
func TestBadGuestBatchGetsErrorCodes(t *testing.T) {
	wasm, _ := badGuest(t)
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	h, err := Instantiate(ctx, r, Config{Wasm: wasm})
	if err != nil {
		t.Fatal(err)
	}
	ins := []Timed{{In: fsm.Start{}}, {In: fsm.Connect{}}, {In: fsm.Start{}}}
	for _, c := range []struct {
		name string
		mode int
		want error
	}{
		{"too few responses", modeBatchShort, ErrBadValue},
		{"broken framing", modeBatchBroken, ErrTruncated},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := h.NewEngine(ctx, fsm.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close(ctx)
			setMode(t, e, c.mode)
			var got []error
			e.StepBatch(ins, func(i int, effs []fsm.Effect, err error) {
				if i == 0 && (len(effs) != 2 || !errors.Is(err, c.want)) {
					t.Errorf("first input: %v %v", effs, err)
				}
				got = append(got, err)
			})
			if len(got) != 3 || !errors.Is(got[1], fsm.ErrClosed) || got[2] != nil && !errors.Is(got[2], fsm.ErrClosed) {
				t.Fatalf("answers %v", got)
			}
			if e.State() != fsm.StateClosed || !errors.Is(e.Err(), c.want) {
				t.Fatalf("state %v err %v", e.State(), e.Err())
			}
		})
	}
	// A good batch through the same guest answers every input.
	e, err := h.NewEngine(ctx, fsm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	n := 0
	e.StepBatch(ins, func(i int, effs []fsm.Effect, err error) {
		if i != n || err != nil || len(effs) != 2 {
			t.Fatalf("input %d: %v %v", i, effs, err)
		}
		n++
	})
	if n != len(ins) {
		t.Fatalf("%d answers", n)
	}
}
