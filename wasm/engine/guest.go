package main

import (
	"fmt"
	"slices"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
	"github.com/kalamgo/kalam/transport/wire"
)

// guest is the engine behind the exports. It holds the one request buffer
// the host writes into and the one response buffer the host reads from;
// both stay reachable from here, so the Go collector keeps them in place
// between calls (it does not move objects).
type guest struct {
	eng    *fsm.Engine
	idx    wire.FrameIndex // a frame's index, reused across steps
	req    []byte          // the host writes requests here
	resp   []byte          // the last response; valid until the next call
	batch  []byte          // the last batch response; valid until the next call
	broken string          // set after a panic: the engine's state is unknown
}

// buffer returns a request buffer of at least size bytes.
func (g *guest) buffer(size int) []byte {
	if size < 0 || size > abi.MaxRequest {
		return nil
	}
	if cap(g.req) < max(size, 1) {
		g.req = make([]byte, max(size, 4096))
	}
	g.req = g.req[:cap(g.req)]
	return g.req
}

// request returns the n bytes at ptr, which must be the request buffer.
func (g *guest) request(ptr uintptr, n uint32, base uintptr) ([]byte, *abi.Error) {
	if len(g.req) == 0 || ptr != base || uint64(n) > uint64(len(g.req)) {
		return nil, abi.Errorf(abi.CodeOutOfRange, "request is not inside the buffer kalam_buffer returned")
	}
	return g.req[:n], nil
}

func (g *guest) fail(e *abi.Error) []byte {
	g.resp = abi.AppendStatus(g.resp[:0], e)
	return g.resp
}

// init (re)creates the engine from a JSON fsm.Config.
func (g *guest) init(req []byte) []byte {
	cfg, err := abi.DecodeConfig(req)
	if err != nil {
		return g.fail(err.(*abi.Error))
	}
	g.eng = fsm.New(cfg)
	g.broken = ""
	g.resp = append(g.resp[:0], byte(abi.CodeOK))
	return g.resp
}

// step decodes one input, steps the engine and encodes what it returned.
func (g *guest) step(req []byte) (resp []byte) {
	switch {
	case g.broken != "":
		return g.fail(abi.Errorf(abi.CodeGuestPanic, g.broken))
	case g.eng == nil:
		return g.fail(abi.ErrNotInitialized)
	}
	// The request buffer is overwritten by the next request. The engine
	// does not keep a frame's bytes past the step, so a frame is decoded
	// in place; other inputs' bytes (query parameters) may be kept, so
	// they are decoded from a copy the engine can own.
	// A frame is stepped as a concrete value, which spares an allocation
	// (see abi.DecodeFrame).
	now, frame, isFrame, err := abi.DecodeFrame(req, &g.idx)
	if err != nil {
		return g.fail(err.(*abi.Error))
	}
	var in fsm.Input
	if !isFrame {
		if now, in, err = abi.DecodeInput(slices.Clone(req)); err != nil {
			return g.fail(err.(*abi.Error))
		}
	}
	defer func() {
		if r := recover(); r != nil {
			g.broken = fmt.Sprintf("engine panicked: %v", r)
			resp = g.fail(abi.Errorf(abi.CodeGuestPanic, g.broken))
		}
	}()
	var effs []fsm.Effect
	var cmdErr error
	if isFrame {
		effs, cmdErr = g.eng.Step(now, frame)
	} else {
		effs, cmdErr = g.eng.Step(now, in)
	}
	out, encErr := abi.AppendStep(g.resp[:0], cmdErr, g.eng.State(), effs)
	if encErr != nil {
		return g.fail(encErr.(*abi.Error))
	}
	g.resp = out
	return g.resp
}

// stepBatch steps every request of a batch in order and returns their
// responses, each exactly what step returned for it. A batch whose framing
// is broken is refused whole, before any of it is stepped.
func (g *guest) stepBatch(req []byte) []byte {
	if err := abi.CheckBatch(req); err != nil {
		return g.fail(err.(*abi.Error))
	}
	g.batch = append(g.batch[:0], byte(abi.CodeOK))
	for rest := req; len(rest) > 0; {
		var item []byte
		item, rest, _ = abi.NextBatchItem(rest) // checked above
		g.batch = abi.AppendBatchItem(g.batch, g.step(item))
	}
	return g.batch
}

// view reports the engine's state, namespace and subscriptions.
func (g *guest) view() []byte {
	if g.eng == nil {
		return g.fail(abi.ErrNotInitialized)
	}
	g.resp = abi.AppendView(g.resp[:0], abi.View{State: g.eng.State(), Namespace: g.eng.Namespace(), Subscriptions: g.eng.Subscriptions()})
	return g.resp
}
