package wire

import "errors"

// The fast path works in two steps: IndexServer scans the payload once and
// records where each field lies (a FrameIndex), then materialize builds the
// message from those offsets. The split lets a caller that already scanned
// the payload (a host feeding frames to an engine in a WebAssembly guest,
// where scanning is many times slower) hand over the offsets with the bytes,
// and lets the decoder report each row's _seq from the one scan.

// Span is a half-open byte range [Start, End) of a payload.
type Span struct{ Start, End int }

// Indexes of FrameIndex.Fields: the top-level string fields the fast path
// reads.
const (
	FieldType = iota
	FieldSubscriptionID
	FieldChangeType
	FieldCode
	FieldMessage
	FieldUser
	FieldRole
	NumFields
)

// RowSpan is one row of a frame: its object, where its _seq value lies (the
// zero Span when the row has no _seq key) and whether it is an old_values
// row.
type RowSpan struct {
	Span
	Seq Span
	Old bool
}

// FrameIndex records where the fields of a server message lie in its
// payload, as IndexServer found them.
type FrameIndex struct {
	// Fields holds each top-level string field as a quoted JSON string
	// (quotes included); the zero Span when the key is absent.
	Fields [NumFields]Span
	// BatchControl is the batch_control object; the zero Span when absent.
	BatchControl Span
	// HasRows and HasOldValues say whether the rows and old_values keys are
	// present (an empty array is not an absent key).
	HasRows, HasOldValues bool
	// Rows lists the rows of both arrays in payload order.
	Rows []RowSpan
}

// ErrBadIndex reports a FrameIndex that does not describe its payload: a
// span out of range or out of order, or one that does not start and end
// where its kind of value must.
var ErrBadIndex = errors.New("wire: frame index does not fit the payload")

// Check verifies that x can describe payload: every span lies inside it, in
// order, on the right delimiters (quotes around strings, braces around
// objects), and every _seq inside its row. It does not re-scan the JSON: an
// index that passes Check but lies about the payload gives a wrong message,
// never a panic.
func (x *FrameIndex) Check(payload []byte) error {
	n := len(payload)
	delimited := func(sp Span, open, close byte) bool {
		return 0 <= sp.Start && sp.Start+2 <= sp.End && sp.End <= n &&
			payload[sp.Start] == open && payload[sp.End-1] == close
	}
	for _, sp := range x.Fields {
		if sp != (Span{}) && !delimited(sp, '"', '"') {
			return ErrBadIndex
		}
	}
	if x.BatchControl != (Span{}) && !delimited(x.BatchControl, '{', '}') {
		return ErrBadIndex
	}
	if len(x.Rows) > 0 && !x.HasRows && !x.HasOldValues {
		return ErrBadIndex
	}
	prev := 0
	for _, r := range x.Rows {
		if r.Start < prev || !delimited(r.Span, '{', '}') ||
			r.Old && !x.HasOldValues || !r.Old && !x.HasRows {
			return ErrBadIndex
		}
		if r.Seq != (Span{}) && (r.Seq.Start <= r.Start || r.Seq.End >= r.End || r.Seq.Start >= r.Seq.End) {
			return ErrBadIndex
		}
		prev = r.End
	}
	return nil
}

// Seqs holds the _seq of each row of the last message decoded into it, as
// RowSeq would report them. The zero value knows none.
type Seqs struct {
	rows, old []seqResult
	known     bool
}

type seqResult struct {
	seq SeqID
	ok  bool
	err error
}

// Row returns the _seq of m.Rows[i] (old=false) or m.OldValues[i]
// (old=true) of the message last decoded with s, and whether s knows it; a
// caller that gets known=false runs RowSeq on the row itself.
func (s *Seqs) Row(old bool, i int) (seq SeqID, ok bool, err error, known bool) {
	list := s.rows
	if old {
		list = s.old
	}
	if !s.known || i < 0 || i >= len(list) {
		return 0, false, nil, false
	}
	r := list[i]
	return r.seq, r.ok, r.err, true
}

func (s *Seqs) reset() {
	if s != nil {
		s.rows, s.old, s.known = s.rows[:0], s.old[:0], false
	}
}

// materialize builds m (zeroed by the caller) from x and, when seqs is not
// nil, records each row's _seq in it. It fails with ErrBadIndex when a span
// does not hold what x says (only possible for an index that did not come
// from IndexServer on this payload).
//
// prevSub is the subscription id of the caller's previous message: a frame
// for the same subscription reuses that string instead of allocating one.
func (x *FrameIndex) materialize(payload []byte, m *ServerMessage, seqs *Seqs, prevSub string) error {
	for f, sp := range x.Fields {
		if sp == (Span{}) {
			continue
		}
		prev := ""
		if f == FieldSubscriptionID {
			prev = prevSub
		}
		v, ok := fieldString(payload[sp.Start:sp.End], prev)
		if !ok {
			return ErrBadIndex
		}
		switch f {
		case FieldType:
			m.Type = v
		case FieldSubscriptionID:
			m.SubscriptionID = v
		case FieldChangeType:
			m.ChangeType = v
		case FieldCode:
			m.Code = v
		case FieldMessage:
			m.Message = v
		case FieldUser:
			m.User = v
		case FieldRole:
			m.Role = v
		}
	}
	if sp := x.BatchControl; sp != (Span{}) {
		s := fastScan{b: payload[:sp.End], i: sp.Start, max: fastMaxDepth}
		bc, ok := s.batchControl()
		if !ok || s.i != sp.End {
			return ErrBadIndex
		}
		m.BatchControl = bc
	}
	if !x.HasRows && !x.HasOldValues {
		return nil
	}
	// One copy of the stretch of payload holding the rows, one slice for
	// both row lists.
	spans := x.Rows
	nOld := 0
	for _, sp := range spans {
		if sp.Old {
			nOld++
		}
	}
	var data []byte
	lo := 0
	if len(spans) > 0 {
		lo = spans[0].Start
		data = make([]byte, spans[len(spans)-1].End-lo)
		copy(data, payload[lo:])
	}
	all := make([]Row, len(spans))
	nNew := len(spans) - nOld
	var rows, old []Row
	if x.HasRows {
		rows = all[:0:nNew]
	}
	if x.HasOldValues {
		old = all[nNew:nNew:len(all)]
	}
	for _, sp := range spans {
		r := Row(data[sp.Start-lo : sp.End-lo : sp.End-lo])
		if sp.Old {
			old = append(old, r)
		} else {
			rows = append(rows, r)
		}
	}
	m.Rows, m.OldValues = rows, old
	if seqs != nil {
		for _, sp := range spans {
			var r seqResult
			if sp.Seq != (Span{}) {
				r.seq, r.ok, r.err = seqValue(payload[sp.Seq.Start:sp.Seq.End])
			}
			if sp.Old {
				seqs.old = append(seqs.old, r)
			} else {
				seqs.rows = append(seqs.rows, r)
			}
		}
		seqs.known = true
	}
	return nil
}

// DecodeServerSeqs is DecodeServer that also records each row's _seq in seqs
// when the fast path took the payload (seqs.Row says whether it knows). x
// is scratch space, reused across calls.
//
// m is reused: a frame for the subscription of the message m held keeps
// its SubscriptionID string.
func DecodeServerSeqs(payload []byte, m *ServerMessage, x *FrameIndex, seqs *Seqs) error {
	prev := m.SubscriptionID
	*m = ServerMessage{}
	seqs.reset()
	if IndexServer(payload, x) && x.materialize(payload, m, seqs, prev) == nil {
		return m.Validate()
	}
	seqs.reset()
	return decodeServerStd(payload, m)
}

// DecodeServerIndexed decodes payload using x, an index IndexServer built
// for it elsewhere, instead of scanning it: the result is DecodeServerSeqs's
// for the same payload when x is IndexServer's. It fails with ErrBadIndex
// (m and seqs unspecified) when x does not fit payload; the caller then
// decodes without it.
func DecodeServerIndexed(payload []byte, x *FrameIndex, m *ServerMessage, seqs *Seqs) error {
	prev := m.SubscriptionID
	*m = ServerMessage{}
	seqs.reset()
	if err := x.Check(payload); err != nil {
		return err
	}
	if err := x.materialize(payload, m, seqs, prev); err != nil {
		seqs.reset()
		return err
	}
	return m.Validate()
}
