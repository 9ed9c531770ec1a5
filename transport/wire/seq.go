package wire

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// SeqID is KalamDB's row-version id: a 64-bit Snowflake,
// (ms since 2024-01-01) << 22 | worker << 12 | sequence.
//
// It marshals as a JSON number (the protocol-field form) and unmarshals from a
// number or a decimal string, never through float64.
type SeqID int64

// SeqEpochMillis is the Unix time in milliseconds of the Snowflake epoch,
// 2024-01-01T00:00:00Z.
const SeqEpochMillis int64 = 1704067200000

// MakeSeqID builds a SeqID from its parts. ms is Unix milliseconds.
func MakeSeqID(unixMillis int64, worker, sequence int64) SeqID {
	return SeqID((unixMillis-SeqEpochMillis)<<22 | (worker&0x3ff)<<12 | (sequence & 0xfff))
}

// UnixMillis returns the wall-clock millisecond the id was minted in.
func (s SeqID) UnixMillis() int64 { return int64(s)>>22 + SeqEpochMillis }

// String returns the decimal form.
func (s SeqID) String() string { return strconv.FormatInt(int64(s), 10) }

// MarshalJSON writes a JSON number.
func (s SeqID) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(s), 10), nil
}

// UnmarshalJSON reads a JSON integer or a string holding one.
func (s *SeqID) UnmarshalJSON(b []byte) error {
	v, err := parseSeq(trimSpace(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText and UnmarshalText let a SeqID be a map key or a flag value.
func (s SeqID) MarshalText() ([]byte, error) { return strconv.AppendInt(nil, int64(s), 10), nil }

// UnmarshalText parses a decimal integer.
func (s *SeqID) UnmarshalText(b []byte) error {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return &DecodeError{Reason: "seq id is not an int64", Err: err}
	}
	*s = SeqID(v)
	return nil
}

// parseSeq parses a JSON number or a JSON string holding a decimal int64.
// Fractions, exponents and out-of-range values are refused.
func parseSeq(b []byte) (SeqID, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		if bytes.IndexByte(b, '\\') >= 0 {
			var str string // escaped digits ("\u0031") are still digits
			if err := json.Unmarshal(b, &str); err != nil {
				return 0, &DecodeError{Reason: "seq id is not a valid JSON string", Err: err}
			}
			b = []byte(str)
		} else {
			b = b[1 : len(b)-1]
		}
	}
	if len(b) == 0 {
		return 0, &DecodeError{Reason: "seq id is empty"}
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, &DecodeError{Reason: "seq id is not an int64: " + quoteShort(b), Err: err}
	}
	return SeqID(v), nil
}

// Row is one row of a subscription, kept as the raw JSON object the server
// sent ({"id":"1","status":"open","_seq":"309…","_deleted":false}). Cells are
// decoded on demand with [Row.Cells] or [Row.Seq].
type Row = json.RawMessage

// SeqColumn and DeletedColumn are the system columns every table carries.
const (
	SeqColumn     = "_seq"
	DeletedColumn = "_deleted"
)

// RowSeq returns the row's _seq cell. ok is false when the row has no _seq
// (stream-table hard deletes carry only row_id) or it is null. A _seq that is
// present but not an int64 (a float, a non-numeric string, a bool) is an
// error, as is a row that is not a JSON object.
//
// Keys are compared after unescaping ("\u005fseq" is _seq); a _seq key inside
// a nested object is not the row's. When the key repeats, the last one wins,
// as in encoding/json.
//
// It scans the object without allocating in the common case; rows are
// usually already validated by the frame decoder, but RowSeq does not rely
// on it.
func RowSeq(row Row) (seq SeqID, ok bool, err error) {
	s := fastScan{b: row, max: maxNesting}
	s.ws()
	if !s.consume('{') {
		return 0, false, &DecodeError{Reason: "row is not a JSON object"}
	}
	var val []byte // the last _seq value seen
	s.ws()
	if !s.consume('}') {
		for {
			s.ws()
			keyStart := s.i
			key, escaped, kok := s.str()
			if !kok {
				return 0, false, &DecodeError{Reason: "row: expected a valid string key"}
			}
			isSeq := isSeqKey(key, escaped, s.b[keyStart:s.i])
			s.ws()
			if !s.consume(':') {
				return 0, false, &DecodeError{Reason: "row: expected ':' after key"}
			}
			s.ws()
			start := s.i
			if !s.value(1) {
				return 0, false, &DecodeError{Reason: "row: invalid, truncated or too deeply nested value"}
			}
			if isSeq {
				val = s.b[start:s.i]
			}
			s.ws()
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return 0, false, &DecodeError{Reason: "row: expected ',' or '}'"}
		}
	}
	return seqValue(val)
}

// seqValue reads a row's _seq cell from its raw JSON value (nil when the
// row has no _seq key), as RowSeq reports it.
func seqValue(val []byte) (seq SeqID, ok bool, err error) {
	if len(val) == 0 || string(val) == "null" {
		return 0, false, nil
	}
	if val[0] != '"' && (val[0] < '0' || val[0] > '9') && val[0] != '-' {
		return 0, false, &DecodeError{Reason: "_seq is not an integer or a decimal string: " + quoteShort(val)}
	}
	v, perr := parseSeq(val)
	if perr != nil {
		return 0, false, perr
	}
	return v, true, nil
}

// Cells decodes a row into its cells, each left as raw JSON.
func Cells(row Row) (map[string]json.RawMessage, error) {
	if m, ok := cellsFast(row); ok {
		return m, nil
	}
	return cellsStd(row)
}

// cellsFast splits a row with the strict scanner, without reflection. The
// cells share the row's bytes. It declines (false) whatever it does not
// handle exactly as encoding/json would — escaped or non-UTF-8 keys,
// invalid JSON, anything after the object — and Cells falls back.
func cellsFast(row Row) (map[string]json.RawMessage, bool) {
	s := fastScan{b: row, max: maxNesting}
	s.ws()
	if !s.consume('{') {
		return nil, false
	}
	m := make(map[string]json.RawMessage, 8)
	s.ws()
	if !s.consume('}') {
		for {
			k, ok := s.key()
			if !ok || !utf8.Valid(k) {
				return nil, false
			}
			start := s.i
			if !s.value(1) {
				return nil, false
			}
			m[string(k)] = json.RawMessage(row[start:s.i:s.i])
			more, ok := s.next()
			if !ok {
				return nil, false
			}
			if !more {
				break
			}
		}
	}
	s.ws()
	return m, s.i == len(row)
}

func cellsStd(row Row) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(row, &m); err != nil {
		return nil, &DecodeError{Reason: "row is not a JSON object", Err: err}
	}
	if m == nil {
		return nil, &DecodeError{Reason: "row is null"}
	}
	return m, nil
}

// EncodeRow writes a row object with the columns in the given order. vals[i]
// must be valid JSON (nil means null).
func EncodeRow(cols []string, vals []json.RawMessage) Row {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(c)
		buf.Write(k)
		buf.WriteByte(':')
		if i < len(vals) && len(vals[i]) > 0 {
			buf.Write(vals[i])
		} else {
			buf.WriteString("null")
		}
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// SeqCell encodes a SeqID the way row data carries it: a JSON string.
func SeqCell(s SeqID) json.RawMessage {
	b := make([]byte, 0, 22)
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(s), 10)
	return append(b, '"')
}

// maxNesting matches encoding/json's depth limit, so RowSeq accepts every
// row encoding/json accepts.
const maxNesting = 10000

func trimSpace(b []byte) []byte { return bytes.TrimSpace(b) }

// quoteShort quotes at most 32 bytes of b for an error message.
func quoteShort(b []byte) string {
	const max = 32
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}

// isSeqKey reports whether a scanned object key is _seq: key is its raw
// text between the quotes, quoted the whole token. An escaped key (as
// "\u005fseq") is unescaped first, so it matches as encoding/json would.
func isSeqKey(key []byte, escaped bool, quoted []byte) bool {
	if !escaped {
		return string(key) == SeqColumn
	}
	var k string
	return json.Unmarshal(quoted, &k) == nil && k == SeqColumn
}
