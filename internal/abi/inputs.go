package abi

import (
	"strconv"
	"time"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// Input tags. Commands are below 32, effect results from 32.
const (
	inStart          = 1
	inSetCredentials = 2
	inFreshAuth      = 3
	inSetNamespace   = 4
	inConnect        = 5
	inDisconnect     = 6
	inSubscribe      = 7
	inUnsubscribe    = 8
	inPause          = 9
	inResume         = 10
	inQuery          = 11
	inDrain          = 12
	inClose          = 13
	inNetworkChanged = 14
	inWake           = 15

	inCredentialsResolved = 32
	inCredentialsFailed   = 33
	inDialed              = 34
	inDialFailed          = 35
	inFrameReceived       = 36
	inPongReceived        = 37
	inSocketClosed        = 38
	inQueryResult         = 39
	inTimerFired          = 40
	inFrameIndexed        = 41
)

const numTimers = int(fsm.TimerGiveUp) + 1

// AppendInput encodes a step request: now (varint nanoseconds), then the
// input's tag and fields (docs/ABI.md, "Inputs"). It fails with
// CodeUnencodable for a query parameter encoding/json cannot write.
func AppendInput(b []byte, now time.Duration, in fsm.Input) ([]byte, error) {
	b = appendVarint(b, int64(now))
	var err error
	switch in := in.(type) {
	case fsm.Start:
		b = append(b, inStart)
	case fsm.SetCredentials:
		b = append(b, inSetCredentials)
		b = appendCredentials(b, in.Credentials)
	case fsm.FreshAuth:
		b = append(b, inFreshAuth)
	case fsm.SetNamespace:
		b = append(b, inSetNamespace)
		b = appendString(b, in.Namespace)
	case fsm.Connect:
		b = append(b, inConnect)
	case fsm.Disconnect:
		b = append(b, inDisconnect)
	case fsm.Subscribe:
		b = append(b, inSubscribe)
		b = appendString(b, in.ID)
		b = appendString(b, in.SQL)
		b = appendOptions(b, in.Options)
		b = appendBool(b, in.Wait)
	case fsm.Unsubscribe:
		b = append(b, inUnsubscribe)
		b = appendString(b, in.ID)
	case fsm.Pause:
		b = append(b, inPause)
		b = appendString(b, in.ID)
		b = appendVarint(b, int64(in.Position))
		b = appendBool(b, in.HasPosition)
	case fsm.Resume:
		b = append(b, inResume)
		b = appendString(b, in.ID)
	case fsm.Query:
		b = append(b, inQuery)
		b = appendUvarint(b, in.ID)
		b = appendString(b, in.SQL)
		b, err = appendParams(b, in.Params)
		b = appendString(b, in.Namespace)
	case fsm.Drain:
		b = append(b, inDrain)
		b = appendVarint(b, int64(in.Deadline))
	case fsm.Close:
		b = append(b, inClose)
	case fsm.NetworkChanged:
		b = append(b, inNetworkChanged)
		b = appendBool(b, in.Online)
	case fsm.Wake:
		b = append(b, inWake)
	case fsm.CredentialsResolved:
		b = append(b, inCredentialsResolved)
		b = appendUvarint(b, in.Req)
		b = appendCredentials(b, in.Credentials)
	case fsm.CredentialsFailed:
		b = append(b, inCredentialsFailed)
		b = appendUvarint(b, in.Req)
		b = AppendError(b, in.Err)
		b = appendBool(b, in.Retryable)
	case fsm.Dialed:
		b = append(b, inDialed)
		b = appendUvarint(b, in.Epoch)
	case fsm.DialFailed:
		b = append(b, inDialFailed)
		b = appendUvarint(b, in.Epoch)
		b = AppendError(b, in.Err)
	case fsm.FrameReceived:
		if in.Index != nil && !in.Binary {
			b = append(b, inFrameIndexed)
			b = appendUvarint(b, in.Epoch)
			b = appendBytes(b, in.Data)
			b = appendFrameIndex(b, in.Index)
			break
		}
		b = append(b, inFrameReceived)
		b = appendUvarint(b, in.Epoch)
		b = appendBool(b, in.Binary)
		b = appendBytes(b, in.Data)
	case fsm.PongReceived:
		b = append(b, inPongReceived)
		b = appendUvarint(b, in.Epoch)
	case fsm.SocketClosed:
		b = append(b, inSocketClosed)
		b = appendUvarint(b, in.Epoch)
		b = appendVarint(b, int64(in.Code))
		b = appendString(b, in.Reason)
	case fsm.QueryResult:
		b = append(b, inQueryResult)
		b = appendUvarint(b, in.ID)
		b = appendResponse(b, in.Response)
		if in.Err != nil {
			b = append(b, 1)
			b = appendQueryError(b, in.Err)
		} else {
			b = append(b, 0)
		}
	case fsm.TimerFired:
		b = append(b, inTimerFired, byte(in.Timer))
		b = appendUvarint(b, in.Gen)
	default:
		return b, Errorf(CodeUnencodable, "input type not in the ABI")
	}
	return b, err
}

// DecodeInput decodes a step request that fills b. Byte fields of the
// result (frame data) alias b.
func DecodeInput(b []byte) (time.Duration, fsm.Input, error) {
	return DecodeInputIndex(b, nil)
}

// DecodeInputIndex is DecodeInput that decodes a frame index, if the input
// carries one, into idx (reused: the result points at it), or into a new
// one when idx is nil.
func DecodeInputIndex(b []byte, idx *wire.FrameIndex) (time.Duration, fsm.Input, error) {
	d := decoder{b: b, idx: idx}
	now := time.Duration(d.varint())
	in := d.input()
	if e := d.end(); e != nil {
		return 0, nil, e
	}
	return now, in, nil
}

// DecodeFrame decodes a step request that carries a frame (FrameReceived,
// with or without an index) into a concrete value, reading exactly what
// DecodeInputIndex reads; isFrame is false, with no error, for any other
// input (decode it with DecodeInput). A caller that steps the value
// directly spares the engine's hot path an allocation: a value converted
// to fsm.Input where the call is made can stay on the stack, one returned
// as fsm.Input cannot (in the guest an allocation costs about a
// microsecond).
func DecodeFrame(b []byte, idx *wire.FrameIndex) (now time.Duration, f fsm.FrameReceived, isFrame bool, err error) {
	d := decoder{b: b, idx: idx}
	now = time.Duration(d.varint())
	tag := d.u8()
	if d.err != nil {
		return 0, fsm.FrameReceived{}, false, d.err
	}
	if tag != inFrameReceived && tag != inFrameIndexed {
		return 0, fsm.FrameReceived{}, false, nil
	}
	f = d.frame(tag)
	if e := d.end(); e != nil {
		return 0, fsm.FrameReceived{}, true, e
	}
	return now, f, true, nil
}

// frame reads the fields of a frame input of tag inFrameReceived or
// inFrameIndexed.
func (d *decoder) frame(tag byte) fsm.FrameReceived {
	if tag == inFrameReceived {
		return fsm.FrameReceived{Epoch: d.uvarint(), Binary: d.bool(), Data: d.bytes()}
	}
	in := fsm.FrameReceived{Epoch: d.uvarint(), Data: d.bytes()}
	in.Index = d.frameIndex(in.Data)
	return in
}

func (d *decoder) input() fsm.Input {
	tag := d.u8()
	if d.err != nil {
		return nil
	}
	switch tag {
	case inStart:
		return fsm.Start{}
	case inSetCredentials:
		return fsm.SetCredentials{Credentials: d.credentials()}
	case inFreshAuth:
		return fsm.FreshAuth{}
	case inSetNamespace:
		return fsm.SetNamespace{Namespace: d.str()}
	case inConnect:
		return fsm.Connect{}
	case inDisconnect:
		return fsm.Disconnect{}
	case inSubscribe:
		return fsm.Subscribe{ID: d.str(), SQL: d.str(), Options: d.options(), Wait: d.bool()}
	case inUnsubscribe:
		return fsm.Unsubscribe{ID: d.str()}
	case inPause:
		return fsm.Pause{ID: d.str(), Position: seq(d.varint()), HasPosition: d.bool()}
	case inResume:
		return fsm.Resume{ID: d.str()}
	case inQuery:
		return fsm.Query{ID: d.uvarint(), SQL: d.str(), Params: d.params(), Namespace: d.str()}
	case inDrain:
		return fsm.Drain{Deadline: time.Duration(d.varint())}
	case inClose:
		return fsm.Close{}
	case inNetworkChanged:
		return fsm.NetworkChanged{Online: d.bool()}
	case inWake:
		return fsm.Wake{}
	case inCredentialsResolved:
		return fsm.CredentialsResolved{Req: d.uvarint(), Credentials: d.credentials()}
	case inCredentialsFailed:
		return fsm.CredentialsFailed{Req: d.uvarint(), Err: d.error(), Retryable: d.bool()}
	case inDialed:
		return fsm.Dialed{Epoch: d.uvarint()}
	case inDialFailed:
		return fsm.DialFailed{Epoch: d.uvarint(), Err: d.error()}
	case inFrameReceived, inFrameIndexed:
		return d.frame(tag)
	case inPongReceived:
		return fsm.PongReceived{Epoch: d.uvarint()}
	case inSocketClosed:
		return fsm.SocketClosed{Epoch: d.uvarint(), Code: d.int(), Reason: d.str()}
	case inQueryResult:
		in := fsm.QueryResult{ID: d.uvarint(), Response: d.response()}
		if d.bool() {
			in.Err = d.queryError()
		}
		return in
	case inTimerFired:
		return fsm.TimerFired{Timer: fsm.Timer(d.enum(numTimers, "timer")), Gen: d.uvarint()}
	}
	d.fail(CodeUnknownTag, "input tag "+strconv.Itoa(int(tag)))
	return nil
}

// Frame index flags.
const (
	ixHasRows      = 1
	ixHasOldValues = 2
	ixRowOld       = 1
	ixRowSeq       = 2
)

// appendFrameIndex writes a wire.FrameIndex (docs/ABI.md, "Frame index"):
// a byte of present string fields, their spans, the batch_control span if
// any, a flags byte, then the rows. A span is two uvarints, start and end.
func appendFrameIndex(b []byte, x *wire.FrameIndex) []byte {
	var present byte
	for f, sp := range x.Fields {
		if sp != (wire.Span{}) {
			present |= 1 << f
		}
	}
	b = append(b, present)
	for _, sp := range x.Fields {
		if sp != (wire.Span{}) {
			b = appendSpan(b, sp)
		}
	}
	if x.BatchControl != (wire.Span{}) {
		b = append(b, 1)
		b = appendSpan(b, x.BatchControl)
	} else {
		b = append(b, 0)
	}
	var flags byte
	if x.HasRows {
		flags |= ixHasRows
	}
	if x.HasOldValues {
		flags |= ixHasOldValues
	}
	b = append(b, flags)
	b = appendUvarint(b, uint64(len(x.Rows)))
	for _, r := range x.Rows {
		var rf byte
		if r.Old {
			rf |= ixRowOld
		}
		if r.Seq != (wire.Span{}) {
			rf |= ixRowSeq
		}
		b = append(b, rf)
		b = appendSpan(b, r.Span)
		if rf&ixRowSeq != 0 {
			b = appendSpan(b, r.Seq)
		}
	}
	return b
}

func appendSpan(b []byte, sp wire.Span) []byte {
	b = appendUvarint(b, uint64(sp.Start))
	return appendUvarint(b, uint64(sp.End))
}

// span reads a span whose ends lie within [0, n].
func (d *decoder) span(n int) wire.Span {
	start, end := d.uvarint(), d.uvarint()
	if d.err == nil && (start > uint64(n) || end > uint64(n) || start >= end) {
		d.fail(CodeOutOfRange, "frame index span")
		return wire.Span{}
	}
	return wire.Span{Start: int(start), End: int(end)}
}

// frameIndex reads a frame index for data and checks that it fits it.
func (d *decoder) frameIndex(data []byte) *wire.FrameIndex {
	x := d.idx
	if x == nil {
		x = new(wire.FrameIndex)
	}
	rows := x.Rows[:0]
	*x = wire.FrameIndex{}
	n := len(data)
	present := d.u8()
	if present >= 1<<wire.NumFields {
		d.fail(CodeBadValue, "frame index fields")
		return nil
	}
	for f := range x.Fields {
		if present&(1<<f) != 0 {
			x.Fields[f] = d.span(n)
		}
	}
	if d.bool() {
		x.BatchControl = d.span(n)
	}
	flags := d.u8()
	if flags&^(ixHasRows|ixHasOldValues) != 0 {
		d.fail(CodeBadValue, "frame index flags")
		return nil
	}
	x.HasRows, x.HasOldValues = flags&ixHasRows != 0, flags&ixHasOldValues != 0
	count := d.count(3)
	for range count {
		rf := d.u8()
		if rf&^(ixRowOld|ixRowSeq) != 0 {
			d.fail(CodeBadValue, "frame index row flags")
			return nil
		}
		r := wire.RowSpan{Span: d.span(n), Old: rf&ixRowOld != 0}
		if rf&ixRowSeq != 0 {
			r.Seq = d.span(n)
		}
		if d.err != nil {
			return nil
		}
		rows = append(rows, r)
	}
	x.Rows = rows
	if d.err != nil {
		return nil
	}
	if x.Check(data) != nil {
		d.fail(CodeOutOfRange, "frame index does not fit the frame")
		return nil
	}
	return x
}
