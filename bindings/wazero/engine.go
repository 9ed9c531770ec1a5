package wazero

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
	"github.com/kalamgo/kalam/transport/wire"
)

// Engine is an fsm.Stepper whose engine runs in a guest instance: Step
// encodes the input, calls the guest and decodes the effects it returns.
// Like fsm.Engine it is not safe for concurrent use.
//
// A failure of the ABI itself (a trap, a response that does not decode, a
// pointer outside memory) is fatal: Step returns the *Error and the effects
// fsm.Problem (not recoverable) and a transition to StateClosed, so a driver
// shuts down instead of running on an engine in an unknown state.
type Engine struct {
	ctx     context.Context
	timeout time.Duration
	mod     api.Module
	mem     api.Memory

	version, buffer, initFn, stepFn, batchFn, viewFn api.Function

	stack  [2]uint64
	bufPtr uint32 // the guest's request buffer
	bufCap uint32
	req    []byte
	batch  []byte // a batch request being built
	effs   []fsm.Effect

	noIndex bool            // Config.NoFrameIndex
	idx     wire.FrameIndex // the last text frame's index, reused

	state           fsm.State
	final           *abi.View // the view kept when the instance is released
	broken          error
	releaseOnClosed bool
}

var _ fsm.Stepper = (*Engine)(nil)

// invoke calls fn with e.stack as its parameters and results.
func (e *Engine) invoke(fn api.Function) error {
	if e.mod == nil {
		return abi.ErrClosed
	}
	ctx := e.ctx
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	if err := fn.CallWithStack(ctx, e.stack[:]); err != nil {
		return abi.Errorf(abi.CodeTrap, fn.Definition().Name()+": "+err.Error())
	}
	return nil
}

// call writes req into the guest's buffer, calls fn(ptr, len) and returns a
// copy of the response.
func (e *Engine) call(fn api.Function, req []byte) ([]byte, error) {
	if len(req) > abi.MaxRequest {
		return nil, abi.ErrTooLarge
	}
	n := uint32(len(req))
	if n > e.bufCap || e.bufPtr == 0 {
		e.stack[0] = uint64(max(n, 4096))
		if err := e.invoke(e.buffer); err != nil {
			return nil, err
		}
		if e.bufPtr = uint32(e.stack[0]); e.bufPtr == 0 {
			return nil, abi.Errorf(abi.CodeOutOfRange, "the guest gave no request buffer")
		}
		e.bufCap = max(n, 4096)
	}
	if !e.mem.Write(e.bufPtr, req) {
		return nil, abi.Errorf(abi.CodeOutOfRange, "request buffer outside guest memory")
	}
	e.stack[0], e.stack[1] = uint64(e.bufPtr), uint64(n)
	if err := e.invoke(fn); err != nil {
		return nil, err
	}
	return e.response(e.stack[0])
}

// response reads a packed pointer/length out of guest memory.
func (e *Engine) response(packed uint64) ([]byte, error) {
	ptr, n := abi.Unpack(packed)
	if n == 0 {
		return nil, abi.Errorf(abi.CodeTruncated, "empty response")
	}
	b, ok := e.mem.Read(ptr, n)
	if !ok {
		return nil, abi.Errorf(abi.CodeOutOfRange, "response outside guest memory")
	}
	return cloneResponse(b), nil
}

// Reset replaces the engine with a new one built from cfg, in the same
// instance (a fresh engine costs far less than a fresh instance).
func (e *Engine) Reset(cfg fsm.Config) error {
	if e.mod == nil {
		return abi.ErrClosed
	}
	e.req = abi.AppendConfig(e.req[:0], cfg)
	resp, err := e.call(e.initFn, e.req)
	if err != nil {
		return err
	}
	if err := abi.DecodeStatus(resp); err != nil {
		return err
	}
	e.state, e.broken = fsm.StateUnauthed, nil
	return nil
}

// Step feeds one input to the guest engine. The effects are valid until the
// next Step, as with fsm.Engine.
func (e *Engine) Step(now time.Duration, in fsm.Input) ([]fsm.Effect, error) {
	if e.mod == nil {
		return e.afterRelease(in)
	}
	var err error
	if e.req, err = abi.AppendInput(e.req[:0], now, e.indexed(in)); err != nil {
		return nil, err // nothing crossed: the input is refused as a whole
	}
	resp, err := e.call(e.stepFn, e.req)
	if err != nil {
		return e.fatal(err)
	}
	return e.finish(resp)
}

// indexed adds the host's index to a text frame: scanning is many times
// faster here than in the guest, so the guest gets the offsets along with
// the unchanged bytes. The index is e.idx, reused: encode the input before
// indexing the next.
func (e *Engine) indexed(in fsm.Input) fsm.Input {
	if f, ok := in.(fsm.FrameReceived); ok && f.Index == nil && !f.Binary && !e.noIndex &&
		len(f.Data) <= wire.DefaultMaxFrame && wire.IndexServer(f.Data, &e.idx) {
		f.Index = &e.idx
		return f
	}
	return in
}

// finish decodes a step response and applies it to the proxy's view.
func (e *Engine) finish(resp []byte) ([]fsm.Effect, error) {
	st, err := abi.DecodeStep(resp, e.effs)
	if err != nil {
		if len(resp) > 0 && inputFault(abi.Code(resp[0])) {
			// The guest refused our request; the engine did not see it.
			return nil, err
		}
		return e.fatal(err)
	}
	e.effs, e.state = st.Effects, st.State
	if e.releaseOnClosed && e.state == fsm.StateClosed {
		e.keepView()
		e.release()
	}
	return st.Effects, st.Err
}

// inputFault reports codes a guest gives for a request it could not read.
func inputFault(c abi.Code) bool {
	switch c {
	case abi.CodeTruncated, abi.CodeUnknownTag, abi.CodeBadValue, abi.CodeTooLarge, abi.CodeOutOfRange:
		return true
	}
	return false
}

// fatal ends the engine after a failure of the ABI.
func (e *Engine) fatal(err error) ([]fsm.Effect, error) {
	from := e.state
	e.broken = err
	e.state = fsm.StateClosed
	e.release()
	effs := append(e.effs[:0], fsm.Problem{Err: err, Recoverable: false})
	if from != fsm.StateClosed {
		effs = append(effs, fsm.StateChanged{From: from, To: fsm.StateClosed, Trigger: fsm.TriggerClose})
	}
	e.effs = effs
	return effs, err
}

// afterRelease answers like a closed engine: commands fail with
// fsm.ErrClosed (Close is a no-op), everything else is ignored.
func (e *Engine) afterRelease(in fsm.Input) ([]fsm.Effect, error) {
	switch in.(type) {
	case fsm.Close:
		return nil, nil
	case fsm.Start, fsm.SetCredentials, fsm.FreshAuth, fsm.SetNamespace, fsm.Connect, fsm.Disconnect,
		fsm.Subscribe, fsm.Unsubscribe, fsm.Pause, fsm.Resume, fsm.Query, fsm.Drain,
		fsm.NetworkChanged, fsm.Wake:
		if e.broken != nil {
			return nil, errors.Join(fsm.ErrClosed, e.broken)
		}
		return nil, fsm.ErrClosed
	}
	return nil, nil
}

func (e *Engine) keepView() {
	if v, err := e.view(); err == nil {
		e.final = &v
	}
}

func (e *Engine) view() (abi.View, error) {
	if e.mod == nil {
		if e.final != nil {
			return *e.final, nil
		}
		return abi.View{State: e.state}, abi.ErrClosed
	}
	if err := e.invoke(e.viewFn); err != nil {
		return abi.View{State: e.state}, err
	}
	resp, err := e.response(e.stack[0])
	if err != nil {
		return abi.View{State: e.state}, err
	}
	return abi.DecodeView(resp)
}

// State returns the lifecycle state after the last Step.
func (e *Engine) State() fsm.State { return e.state }

// Namespace returns the engine's namespace ("" when none or unreadable).
func (e *Engine) Namespace() string {
	v, _ := e.view()
	return v.Namespace
}

// Subscriptions lists the engine's subscriptions (nil when unreadable).
func (e *Engine) Subscriptions() []fsm.SubscriptionInfo {
	v, _ := e.view()
	return v.Subscriptions
}

// MemorySize returns the size of the instance's linear memory in bytes.
func (e *Engine) MemorySize() uint32 {
	if e.mem == nil || e.mod == nil {
		return 0
	}
	return e.mem.Size()
}

// Err returns the ABI failure that ended the engine, if any.
func (e *Engine) Err() error { return e.broken }

// Close releases the instance. Later Steps answer like a closed engine.
func (e *Engine) Close(context.Context) error {
	if e.mod != nil {
		e.keepView()
		e.state = fsm.StateClosed
	}
	return e.release()
}

func (e *Engine) release() error {
	if e.mod == nil {
		return nil
	}
	mod := e.mod
	e.mod, e.mem = nil, nil
	return mod.Close(context.Background())
}
