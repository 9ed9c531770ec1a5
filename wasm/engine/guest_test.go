package main

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
)

// The guest's logic runs natively too; the wasm build only adds the
// exports around it (bindings/wazero tests those through wazero).

func TestGuestLifecycle(t *testing.T) {
	var g guest
	if err := abi.DecodeStatus(g.view()); !errors.Is(err, abi.ErrNotInitialized) {
		t.Fatalf("view before init: %v", err)
	}
	if _, err := abi.DecodeStep(g.step([]byte{0, 1}), nil); !errors.Is(err, abi.ErrNotInitialized) {
		t.Fatalf("step before init: %v", err)
	}
	if b := g.buffer(-1); b != nil {
		t.Fatal("negative buffer size accepted")
	}
	if b := g.buffer(abi.MaxRequest + 1); b != nil {
		t.Fatal("oversized buffer accepted")
	}
	if err := abi.DecodeStatus(g.init([]byte(`{"namespace":1}`))); !errors.Is(err, abi.ErrBadConfig) {
		t.Fatalf("bad config: %v", err)
	}
	if err := abi.DecodeStatus(g.init(abi.AppendConfig(nil, fsm.Config{Namespace: "app"}))); err != nil {
		t.Fatal(err)
	}
	in, _ := abi.AppendInput(nil, time.Second, fsm.SetCredentials{Credentials: auth.Credentials{AccessToken: auth.NewSecret("t")}})
	buf := g.buffer(len(in))
	copy(buf, in)
	if _, err := g.request(0, uint32(len(in)), 1); !errors.Is(err, abi.ErrOutOfRange) {
		t.Fatalf("foreign pointer: %v", err)
	}
	if _, err := g.request(5, uint32(len(buf)+1), 5); !errors.Is(err, abi.ErrOutOfRange) {
		t.Fatalf("length past the buffer: %v", err)
	}
	req, err := g.request(5, uint32(len(in)), 5)
	if err != nil {
		t.Fatal(err)
	}
	st, derr := abi.DecodeStep(g.step(req), nil)
	if derr != nil || st.State != fsm.StateAuthed {
		t.Fatalf("step: %+v %v", st, derr)
	}
	copy(buf, "garbage that is no input")
	if _, err := abi.DecodeStep(g.step(buf[:10]), nil); err == nil {
		t.Fatal("garbage stepped")
	}
	v, verr := abi.DecodeView(g.view())
	if verr != nil || v.State != fsm.StateAuthed || v.Namespace != "app" {
		t.Fatalf("view: %+v %v", v, verr)
	}
}

// A batch answers each request with the bytes step gives it alone, and a
// batch whose framing is broken is refused before any of it is stepped.
func TestGuestBatch(t *testing.T) {
	var one, many guest
	cfg := abi.AppendConfig(nil, fsm.Config{Namespace: "app"})
	for _, g := range []*guest{&one, &many} {
		if err := abi.DecodeStatus(g.init(cfg)); err != nil {
			t.Fatal(err)
		}
	}
	ins := []fsm.Input{
		fsm.SetCredentials{Credentials: auth.Credentials{AccessToken: auth.NewSecret("t"), Lifetime: time.Hour}},
		fsm.Subscribe{ID: "", SQL: "x"}, // refused
		fsm.Connect{},
		fsm.Dialed{Epoch: 1},
	}
	var batch, want []byte
	want = append(want, byte(abi.CodeOK))
	for i, in := range ins {
		req, _ := abi.AppendInput(nil, time.Duration(i)*time.Second, in)
		batch = abi.AppendBatchItem(batch, req)
		want = abi.AppendBatchItem(want, one.step(req))
	}
	batch = abi.AppendBatchItem(batch, []byte{0, 0xff}) // an unknown tag: refused alone
	want = abi.AppendBatchItem(want, one.step([]byte{0, 0xff}))
	if got := many.stepBatch(batch); !bytes.Equal(got, want) {
		t.Fatalf("batch answered\n%x\none by one\n%x", got, want)
	}
	if got := many.stepBatch(nil); !bytes.Equal(got, []byte{byte(abi.CodeOK)}) {
		t.Fatalf("empty batch: %x", got)
	}
	before := many.eng.State()
	req, _ := abi.AppendInput(nil, 9*time.Second, fsm.Disconnect{})
	broken := append(abi.AppendBatchItem(nil, req), 0x05, 0x01) // the second item claims 5 bytes, has 1
	if err := abi.DecodeStatus(many.stepBatch(broken)); !errors.Is(err, abi.ErrTruncated) {
		t.Fatalf("broken batch: %v", err)
	}
	if many.eng.State() != before {
		t.Fatal("a refused batch was partly stepped")
	}
}
