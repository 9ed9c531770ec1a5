package wire

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"unicode/utf8"
)

// The fast path decodes the hot server messages (live changes, initial
// batches, errors) with one strict pass over the payload and no reflection.
// It handles only a closed set of shapes; on anything else it gives up and
// DecodeServer runs encoding/json instead, so the result is the same for
// every input. It never reports a JSON error itself: whenever it accepts,
// the payload is valid JSON that encoding/json decodes to the same message.
//
// Accepted: one object, surrounded by whitespace only, whose keys are
// unescaped, appear at most once, and are exactly (case included) among
// type, subscription_id, change_type, code, message, user, role (string
// values), rows and old_values (arrays of objects, kept verbatim) and
// batch_control (an object with batch_num, has_more, status, last_seq_id).
// Nulls, numbers where strings go, other keys, deep nesting: not accepted.

// Bits of the top-level keys seen so far (a repeated key is refused).
const (
	keyType = 1 << iota
	keySubscriptionID
	keyChangeType
	keyCode
	keyMessage
	keyUser
	keyRole
	keyRows
	keyOldValues
	keyBatchControl
)

// fastMaxDepth bounds nesting inside rows. encoding/json allows 10000; deeper
// rows are simply left to it.
const fastMaxDepth = 512

// strPlain marks the bytes a JSON string may hold as they are: not a quote,
// not a backslash, not a control character.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the index of the first byte from i on that a string
// cannot hold as it is (a quote, a backslash, a control character), or
// len(b). It tests eight bytes per step: under GOARCH=wasm every loop
// iteration is costly, whatever little it does.
func plainRun(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		// A byte below 0x20, or equal to '"' or '\\', sets its high bit
		// in at least one term (the usual has-zero-byte / has-less-than
		// tests; exact as to whether any such byte exists).
		if ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs)&highs != 0 {
			break
		}
		i += 8
	}
	for i < len(b) && strPlain[b[i]] {
		i++
	}
	return i
}

// fastScan is a strict JSON reader: every method returns false on input
// encoding/json would reject, and may also return false on valid input it
// does not care to handle.
type fastScan struct {
	b   []byte
	i   int
	max int // deepest nesting accepted; the outermost value is depth 1
}

func (s *fastScan) ws() {
	b, i := s.b, s.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	s.i = i
}

func (s *fastScan) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *fastScan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string at the cursor and returns its raw contents (without the
// quotes) and whether it holds escapes. Escapes are checked strictly.
func (s *fastScan) str() (raw []byte, escaped, ok bool) {
	// Locals, not s.i: the Go wasm port keeps them in wasm locals, while
	// fields cost a memory load and store per byte.
	b, i := s.b, s.i
	if i >= len(b) || b[i] != '"' {
		return nil, false, false
	}
	i++
	start := i
	for {
		i = plainRun(b, i)
		if i >= len(b) {
			return nil, false, false
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return b[start:i], escaped, true
		case '\\':
			escaped = true
			i++
			if i >= len(b) {
				return nil, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return nil, false, false
				}
				i += 5
			default:
				return nil, false, false
			}
		default: // control character
			return nil, false, false
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number reads a number with the JSON grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and reports whether it is
// a plain integer (no fraction, no exponent).
func (s *fastScan) number() (integer, ok bool) {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return false, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return false, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return false, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return integer, true
}

// literal reads word (true, false or null) at the cursor.
func (s *fastScan) literal(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// value checks one JSON value of any kind found at depth (the depth of the
// object or array holding it), nested at most s.max deep.
//
// It is one loop with an explicit stack rather than a recursive descent:
// under GOARCH=wasm every call costs far more than the few bytes most
// tokens span, so strings, numbers and literals are read inline.
func (s *fastScan) value(depth int) bool {
	b, i := s.b, s.i
	var openBuf [32]bool // the containers open in this call; true for an object
	open := openBuf[:0]
	key := false // the next token is an object key
	for {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
		if i >= len(b) {
			return false
		}
		c := b[i]
		if key && c != '"' {
			return false
		}
		switch {
		case c == '"':
			i++
			for {
				i = plainRun(b, i)
				if i >= len(b) {
					return false
				}
				if b[i] == '"' {
					i++
					break
				}
				if b[i] != '\\' || i+1 >= len(b) {
					return false // a control character, or a cut escape
				}
				switch b[i+1] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					i += 2
				case 'u':
					if i+5 >= len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
						return false
					}
					i += 6
				default:
					return false
				}
			}
			if key {
				for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
					i++
				}
				if i >= len(b) || b[i] != ':' {
					return false
				}
				i++
				key = false
				continue
			}
		case c == '{' || c == '[':
			if depth+len(open)+1 > s.max {
				return false
			}
			i++
			for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
				i++
			}
			if i < len(b) && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
				i++
				break // an empty container is a complete value
			}
			open = append(open, c == '{')
			key = c == '{'
			continue
		case c == 't':
			if len(b)-i < 4 || string(b[i:i+4]) != "true" {
				return false
			}
			i += 4
		case c == 'f':
			if len(b)-i < 5 || string(b[i:i+5]) != "false" {
				return false
			}
			i += 5
		case c == 'n':
			if len(b)-i < 4 || string(b[i:i+4]) != "null" {
				return false
			}
			i += 4
		case c == '-' || isDigit(c):
			s.i = i
			if _, ok := s.number(); !ok {
				return false
			}
			i = s.i
		default:
			return false
		}
		// A value ended: close what it completes.
		for {
			if len(open) == 0 {
				s.i = i
				return true
			}
			for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
				i++
			}
			if i >= len(b) {
				return false
			}
			obj := open[len(open)-1]
			if b[i] == ',' {
				i++
				key = obj
				break
			}
			if obj && b[i] != '}' || !obj && b[i] != ']' {
				return false
			}
			i++
			open = open[:len(open)-1]
		}
	}
}

// key reads an object key for the message decoder: unescaped only.
func (s *fastScan) key() ([]byte, bool) {
	s.ws()
	k, escaped, ok := s.str()
	if !ok || escaped {
		return nil, false
	}
	s.ws()
	if !s.consume(':') {
		return nil, false
	}
	s.ws()
	return k, true
}

// next reads what follows a member: true with more=true after a comma,
// more=false after the closing brace.
func (s *fastScan) next() (more, ok bool) {
	s.ws()
	if s.consume(',') {
		return true, true
	}
	return false, s.consume('}')
}

// stringField reads a string value as encoding/json would store it in a Go
// string.
func (s *fastScan) stringField() (string, bool) {
	start := s.i
	if _, _, ok := s.str(); !ok {
		return "", false
	}
	return fieldString(s.b[start:s.i], "")
}

// fieldString turns a quoted JSON string into the Go string encoding/json
// would store, false when it is not one valid JSON string. When the value
// is prev, prev is returned rather than a new copy.
func fieldString(quoted []byte, prev string) (string, bool) {
	if len(quoted) < 2 || quoted[0] != '"' || quoted[len(quoted)-1] != '"' {
		return "", false
	}
	raw := quoted[1 : len(quoted)-1]
	if plainRun(raw, 0) == len(raw) && utf8.Valid(raw) {
		if prev != "" && string(raw) == prev {
			return prev, true
		}
		return intern(raw), true
	}
	// Escapes, or invalid UTF-8 that encoding/json replaces: let it unquote
	// this one string.
	var v string
	if json.Unmarshal(quoted, &v) != nil {
		return "", false
	}
	return v, true
}

// intern returns the constant for the usual tag values, so they cost no
// allocation.
func intern(b []byte) string {
	switch string(b) {
	case TypeChange:
		return TypeChange
	case TypeInitialDataBatch:
		return TypeInitialDataBatch
	case TypeError:
		return TypeError
	case ChangeInsert:
		return ChangeInsert
	case ChangeUpdate:
		return ChangeUpdate
	case ChangeDelete:
		return ChangeDelete
	case StatusReady:
		return StatusReady
	case StatusLoading:
		return StatusLoading
	case StatusLoadingBatch:
		return StatusLoadingBatch
	}
	return string(b)
}

// rowArray reads an array of objects, appending each element's span and
// where its _seq value lies.
func (s *fastScan) rowArray(spans []RowSpan, old bool) ([]RowSpan, bool) {
	if !s.consume('[') {
		return spans, false
	}
	s.ws()
	if s.consume(']') {
		return spans, true
	}
	for {
		s.ws()
		start := s.i
		seq, ok := s.row()
		if !ok {
			return spans, false
		}
		if len(spans) == cap(spans) && len(spans) > 0 {
			// Out of room: size the list once for the rest of the payload,
			// guessing from the rows so far, rather than doubling.
			n := len(spans)
			avg := (s.i-spans[0].Start)/(n+1) + 1
			grown := make([]RowSpan, n, n+1+(len(s.b)-s.i)/avg)
			copy(grown, spans)
			spans = grown
		}
		spans = append(spans, RowSpan{Span: Span{Start: start, End: s.i}, Seq: seq, Old: old})
		s.ws()
		if s.consume(',') {
			continue
		}
		return spans, s.consume(']')
	}
}

// row reads one row object (depth 3: message, array, row) and returns the
// span of its _seq value, as RowSeq would pick it: keys compared after
// unescaping, the last one winning. The zero Span means no _seq key.
func (s *fastScan) row() (seq Span, ok bool) {
	if !s.consume('{') {
		return Span{}, false
	}
	s.ws()
	if s.consume('}') {
		return Span{}, true
	}
	for {
		s.ws()
		keyStart := s.i
		key, escaped, kok := s.str()
		if !kok {
			return Span{}, false
		}
		isSeq := isSeqKey(key, escaped, s.b[keyStart:s.i])
		s.ws()
		if !s.consume(':') {
			return Span{}, false
		}
		s.ws()
		start := s.i
		if !s.value(3) {
			return Span{}, false
		}
		if isSeq {
			seq = Span{Start: start, End: s.i}
		}
		s.ws()
		if s.consume(',') {
			continue
		}
		return seq, s.consume('}')
	}
}

// batchControl reads a batch_control object.
func (s *fastScan) batchControl() (*BatchControl, bool) {
	if !s.consume('{') {
		return nil, false
	}
	bc := new(BatchControl)
	s.ws()
	if s.consume('}') {
		return bc, true
	}
	var seen uint8
	for {
		k, ok := s.key()
		if !ok {
			return nil, false
		}
		var bit uint8
		switch string(k) {
		case "batch_num":
			bit = 1
			start := s.i
			if integer, ok := s.number(); !ok || !integer || s.b[start] == '-' {
				return nil, false
			}
			var n uint64
			for _, c := range s.b[start:s.i] {
				n = n*10 + uint64(c-'0')
				if n > math.MaxUint32 {
					return nil, false
				}
			}
			bc.BatchNum = uint32(n)
		case "has_more":
			bit = 2
			switch {
			case s.literal("true"):
				bc.HasMore = true
			case s.literal("false"):
				bc.HasMore = false
			default:
				return nil, false
			}
		case "status":
			bit = 4
			if bc.Status, ok = s.stringField(); !ok {
				return nil, false
			}
		case "last_seq_id":
			bit = 8
			if s.literal("null") {
				bc.LastSeqID = nil
				break
			}
			start := s.i
			switch c := s.peek(); {
			case c == '"':
				_, _, ok = s.str()
			case c == '-' || isDigit(c):
				_, ok = s.number()
			default:
				ok = false
			}
			if !ok {
				return nil, false
			}
			v := new(SeqID)
			if v.UnmarshalJSON(s.b[start:s.i]) != nil {
				return nil, false // encoding/json reports it
			}
			bc.LastSeqID = v
		default:
			return nil, false
		}
		if seen&bit != 0 {
			return nil, false
		}
		seen |= bit
		more, ok := s.next()
		if !ok {
			return nil, false
		}
		if !more {
			return bc, true
		}
	}
}

// decodeServerFast decodes payload into m (which the caller has zeroed) when
// the payload has a shape it handles. It returns false otherwise, leaving m
// in an unspecified state. Rows never alias payload.
func decodeServerFast(payload []byte, m *ServerMessage) bool {
	var buf [8]RowSpan
	x := FrameIndex{Rows: buf[:0]}
	if !IndexServer(payload, &x) {
		return false
	}
	return x.materialize(payload, m, nil, "") == nil
}

// IndexServer scans payload with the fast path's strict reader and records
// in x where its fields lie. It returns false, leaving x unspecified, when
// the payload is outside the shapes the fast path handles (DecodeServer then
// uses encoding/json). x.Rows is reused.
func IndexServer(payload []byte, x *FrameIndex) bool {
	*x = FrameIndex{Rows: x.Rows[:0]}
	s := fastScan{b: payload, max: fastMaxDepth}
	s.ws()
	if !s.consume('{') {
		return false
	}
	var seen uint16
	s.ws()
	if !s.consume('}') {
		for {
			k, ok := s.key()
			if !ok {
				return false
			}
			var bit uint16
			field := -1
			switch string(k) {
			case "type":
				bit, field = keyType, FieldType
			case "subscription_id":
				bit, field = keySubscriptionID, FieldSubscriptionID
			case "change_type":
				bit, field = keyChangeType, FieldChangeType
			case "code":
				bit, field = keyCode, FieldCode
			case "message":
				bit, field = keyMessage, FieldMessage
			case "user":
				bit, field = keyUser, FieldUser
			case "role":
				bit, field = keyRole, FieldRole
			case "rows":
				bit = keyRows
				if x.Rows, ok = s.rowArray(x.Rows, false); !ok {
					return false
				}
				x.HasRows = true
			case "old_values":
				bit = keyOldValues
				if x.Rows, ok = s.rowArray(x.Rows, true); !ok {
					return false
				}
				x.HasOldValues = true
			case "batch_control":
				bit = keyBatchControl
				start := s.i
				if _, ok = s.batchControl(); !ok {
					return false
				}
				x.BatchControl = Span{Start: start, End: s.i}
			default:
				return false
			}
			if seen&bit != 0 {
				return false
			}
			seen |= bit
			if field >= 0 {
				start := s.i
				if _, _, ok := s.str(); !ok {
					return false
				}
				x.Fields[field] = Span{Start: start, End: s.i}
			}
			more, ok := s.next()
			if !ok {
				return false
			}
			if !more {
				break
			}
		}
	}
	s.ws()
	return s.i == len(s.b)
}
