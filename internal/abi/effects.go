package abi

import (
	"strconv"
	"time"

	"github.com/kalamgo/kalam/auth/credential"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// Effect tags.
const (
	effResolveCredentials = 1
	effDial               = 2
	effAuthenticate       = 3
	effSend               = 4
	effPing               = 5
	effCloseSocket        = 6
	effHTTPQuery          = 7
	effSetTimer           = 8
	effCancelTimer        = 9
	effDeliver            = 10
	effQueryDone          = 11
	effStateChanged       = 12
	effConnectionEvent    = 13
	effProblem            = 14
	effDrainDone          = 15
)

var (
	numReasons     = int(credential.ReasonReconnect) + 1
	numEventKinds  = int(fsm.EventEnded) + 1
	numContinuity  = int(fsm.ContinuityBroken) + 1
	minEffectBytes = 2 // a tag and at least one field byte
)

func seq(v int64) wire.SeqID { return wire.SeqID(v) }

// AppendEffect encodes one effect (docs/ABI.md, "Effects"). It fails with
// CodeUnencodable only for an HTTPQuery whose parameters encoding/json
// cannot write, or an effect type the ABI does not know.
func AppendEffect(b []byte, eff fsm.Effect) ([]byte, error) {
	var err error
	switch e := eff.(type) {
	case fsm.ResolveCredentials:
		b = append(b, effResolveCredentials)
		b = appendUvarint(b, e.Req)
		b = append(b, byte(e.Reason))
	case fsm.Dial:
		b = append(b, effDial)
		b = appendUvarint(b, e.Epoch)
	case fsm.Authenticate:
		b = append(b, effAuthenticate)
		b = appendUvarint(b, e.Epoch)
		b = appendString(b, e.Token.Reveal())
	case fsm.Send:
		b = append(b, effSend)
		b = appendUvarint(b, e.Epoch)
		b = appendBytes(b, e.Data)
	case fsm.Ping:
		b = append(b, effPing)
		b = appendUvarint(b, e.Epoch)
	case fsm.CloseSocket:
		b = append(b, effCloseSocket)
		b = appendUvarint(b, e.Epoch)
		b = appendVarint(b, int64(e.Code))
		b = appendString(b, e.Reason)
	case fsm.HTTPQuery:
		b = append(b, effHTTPQuery)
		b = appendUvarint(b, e.ID)
		b = appendString(b, e.Token.Reveal())
		b, err = appendRequest(b, e.Request)
	case fsm.SetTimer:
		b = append(b, effSetTimer, byte(e.Timer))
		b = appendVarint(b, int64(e.At))
		b = appendUvarint(b, e.Gen)
	case fsm.CancelTimer:
		b = append(b, effCancelTimer, byte(e.Timer))
	case fsm.Deliver:
		b = append(b, effDeliver)
		b = appendString(b, e.Sub)
		b = appendEvent(b, &e.Event)
	case fsm.QueryDone:
		b = append(b, effQueryDone)
		b = appendUvarint(b, e.ID)
		b = appendResponse(b, e.Response)
		b = AppendError(b, e.Err)
	case fsm.StateChanged:
		b = append(b, effStateChanged, byte(e.From), byte(e.To), byte(e.Trigger))
		b = AppendError(b, e.Reason)
		b = appendVarint(b, int64(e.Code))
		b = appendVarint(b, int64(e.Attempt))
		b = appendVarint(b, int64(e.RetryIn))
	case fsm.ConnectionEvent:
		b = append(b, effConnectionEvent)
		b = appendUvarint(b, e.Epoch)
		b = appendBool(b, e.Connected)
		b = appendVarint(b, int64(e.Code))
		b = appendString(b, e.Reason)
		b = AppendError(b, e.Err)
		b = appendBool(b, e.Recoverable)
	case fsm.Problem:
		b = append(b, effProblem)
		b = AppendError(b, e.Err)
		b = appendBool(b, e.Recoverable)
	case fsm.DrainDone:
		o := e.Outcome
		b = append(b, effDrainDone)
		b = appendBool(b, o.TimedOut)
		b = appendBool(b, o.Aborted)
		b = appendVarint(b, int64(o.QueriesCompleted))
		b = appendVarint(b, int64(o.QueriesAbandoned))
		b = appendVarint(b, int64(o.LoadsCompleted))
		b = appendVarint(b, int64(o.LoadsAbandoned))
		b = appendVarint(b, int64(o.Subscriptions))
	default:
		return b, Errorf(CodeUnencodable, "effect type not in the ABI")
	}
	return b, err
}

func appendEvent(b []byte, ev *fsm.Event) []byte {
	b = append(b, byte(ev.Kind))
	b = appendRows(b, ev.Rows)
	b = appendRows(b, ev.OldValues)
	b = appendSchema(b, ev.Schema)
	b = appendVarint(b, int64(ev.Seq))
	b = appendUvarint(b, uint64(ev.Batch))
	b = appendBool(b, ev.Last)
	b = appendVarint(b, int64(ev.From))
	b = append(b, byte(ev.Continuity))
	return AppendError(b, ev.Err)
}

func (d *decoder) event() fsm.Event {
	ev := fsm.Event{
		Kind:      fsm.EventKind(d.enum(numEventKinds, "event kind")),
		Rows:      d.rows(),
		OldValues: d.rows(),
		Schema:    d.schema(),
		Seq:       seq(d.varint()),
	}
	batch := d.uvarint()
	if batch > 1<<32-1 {
		d.fail(CodeBadValue, "batch number")
	}
	ev.Batch = uint32(batch)
	ev.Last = d.bool()
	ev.From = seq(d.varint())
	ev.Continuity = fsm.Continuity(d.enum(numContinuity, "continuity"))
	ev.Err = d.error()
	return ev
}

func (d *decoder) effect() fsm.Effect {
	tag := d.u8()
	if d.err != nil {
		return nil
	}
	switch tag {
	case effResolveCredentials:
		return fsm.ResolveCredentials{Req: d.uvarint(), Reason: credential.Reason(d.enum(numReasons, "reason"))}
	case effDial:
		return fsm.Dial{Epoch: d.uvarint()}
	case effAuthenticate:
		return fsm.Authenticate{Epoch: d.uvarint(), Token: credential.NewSecret(d.str())}
	case effSend:
		return fsm.Send{Epoch: d.uvarint(), Data: d.bytes()}
	case effPing:
		return fsm.Ping{Epoch: d.uvarint()}
	case effCloseSocket:
		return fsm.CloseSocket{Epoch: d.uvarint(), Code: d.int(), Reason: d.str()}
	case effHTTPQuery:
		return fsm.HTTPQuery{ID: d.uvarint(), Token: credential.NewSecret(d.str()), Request: d.request()}
	case effSetTimer:
		return fsm.SetTimer{Timer: fsm.Timer(d.enum(numTimers, "timer")), At: time.Duration(d.varint()), Gen: d.uvarint()}
	case effCancelTimer:
		return fsm.CancelTimer{Timer: fsm.Timer(d.enum(numTimers, "timer"))}
	case effDeliver:
		return fsm.Deliver{Sub: d.str(), Event: d.event()}
	case effQueryDone:
		return fsm.QueryDone{ID: d.uvarint(), Response: d.response(), Err: d.error()}
	case effStateChanged:
		return fsm.StateChanged{
			From:    fsm.State(d.enum(numStates, "state")),
			To:      fsm.State(d.enum(numStates, "state")),
			Trigger: fsm.Trigger(d.enum(numTriggers, "trigger")),
			Reason:  d.error(),
			Code:    d.int(),
			Attempt: d.int(),
			RetryIn: time.Duration(d.varint()),
		}
	case effConnectionEvent:
		return fsm.ConnectionEvent{Epoch: d.uvarint(), Connected: d.bool(), Code: d.int(), Reason: d.str(), Err: d.error(), Recoverable: d.bool()}
	case effProblem:
		return fsm.Problem{Err: d.error(), Recoverable: d.bool()}
	case effDrainDone:
		return fsm.DrainDone{Outcome: fsm.DrainOutcome{
			TimedOut: d.bool(), Aborted: d.bool(),
			QueriesCompleted: d.int(), QueriesAbandoned: d.int(),
			LoadsCompleted: d.int(), LoadsAbandoned: d.int(),
			Subscriptions: d.int(),
		}}
	}
	d.fail(CodeUnknownTag, "effect tag "+strconv.Itoa(int(tag)))
	return nil
}

// Step is what one step returns: the command's refusal (nil when accepted
// or not a command), the state after the step, and the effects in order.
type Step struct {
	Err     error
	State   fsm.State
	Effects []fsm.Effect
}

// AppendStep encodes a successful step response: status 0, the refusal as
// an error, the state, then the list of effects.
func AppendStep(b []byte, err error, state fsm.State, effs []fsm.Effect) ([]byte, error) {
	b = append(b, byte(CodeOK))
	b = AppendError(b, err)
	b = append(b, byte(state))
	b = appendUvarint(b, uint64(len(effs)))
	for _, eff := range effs {
		var e error
		if b, e = AppendEffect(b, eff); e != nil {
			return b, e
		}
	}
	return b, nil
}

// DecodeStep decodes a step response that fills b. A non-zero status comes
// back as an *Error. Byte fields of the effects alias b, so the caller
// hands over a b it will not reuse; effs, when not nil, is reused for the
// list.
func DecodeStep(b []byte, effs []fsm.Effect) (Step, error) {
	d := decoder{b: b}
	if e := readStatus(&d); e != nil {
		return Step{}, e
	}
	s := Step{Err: d.error(), State: fsm.State(d.enum(numStates, "state"))}
	n := d.count(minEffectBytes)
	s.Effects = effs[:0]
	for range n {
		eff := d.effect()
		if d.err != nil {
			break
		}
		s.Effects = append(s.Effects, eff)
	}
	if e := d.end(); e != nil {
		return Step{}, e
	}
	return s, nil
}

// EffectsOffset returns where the effect list starts in a successful step
// response (after the status, the refusal and the state), for tests that
// compare the effect bytes alone.
func EffectsOffset(b []byte) (int, error) {
	d := decoder{b: b}
	if e := readStatus(&d); e != nil {
		return 0, e
	}
	d.error()
	d.enum(numStates, "state")
	if d.err != nil {
		return 0, d.err
	}
	return d.off, nil
}
