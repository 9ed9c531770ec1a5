package wire_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

func TestSeqIDJSON(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 1 << 53, 1<<53 + 1, 309840000000000300, 309840123456789999, math.MaxInt64, math.MinInt64} {
		b, err := json.Marshal(wire.SeqID(v))
		if err != nil || string(b) != strconv.FormatInt(v, 10) {
			t.Errorf("Marshal(%d) = %s, %v", v, b, err)
		}
		for _, in := range []string{string(b), `"` + string(b) + `"`, " " + string(b) + " "} {
			var s wire.SeqID
			if err := json.Unmarshal([]byte(in), &s); err != nil || int64(s) != v {
				t.Errorf("Unmarshal(%s) = %d, %v", in, s, err)
			}
		}
		var s wire.SeqID
		txt, _ := wire.SeqID(v).MarshalText()
		if err := s.UnmarshalText(txt); err != nil || int64(s) != v || wire.SeqID(v).String() != string(txt) {
			t.Errorf("text round trip of %d: %d %v", v, s, err)
		}
	}
	// A map keyed by SeqID uses the text form.
	b, _ := json.Marshal(map[wire.SeqID]int{309840000000000300: 1})
	if string(b) != `{"309840000000000300":1}` {
		t.Errorf("map key: %s", b)
	}
	for _, bad := range []string{`1.5`, `1e3`, `"1.5"`, `"abc"`, `""`, `true`, `null`, `{}`, `9223372036854775808`, `"-9223372036854775809"`, `"0x10"`, `"1_000"`} {
		var s wire.SeqID
		err := json.Unmarshal([]byte(bad), &s)
		if bad == "null" {
			continue // encoding/json leaves non-pointer values alone on null
		}
		var de *wire.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("Unmarshal(%s) = %d, %v; want a DecodeError", bad, s, err)
		}
	}
	var s wire.SeqID
	if err := s.UnmarshalText([]byte("x")); err == nil {
		t.Error("UnmarshalText accepted garbage")
	}
}

func TestSeqIDParts(t *testing.T) {
	ms := int64(1777971600123)
	s := wire.MakeSeqID(ms, 5, 17)
	if s.UnixMillis() != ms || int64(s)&0xfff != 17 || (int64(s)>>12)&0x3ff != 5 {
		t.Errorf("MakeSeqID = %d: ms %d", s, s.UnixMillis())
	}
	if float64(s) < 1<<53 {
		t.Errorf("a 2026 seq id %d should be above 2^53", s)
	}
	if string(wire.SeqCell(309840000000000300)) != `"309840000000000300"` {
		t.Error("SeqCell")
	}
}

func TestRowSeq(t *testing.T) {
	const (
		noSeq = iota
		hasSeq
		isErr
	)
	for _, tc := range []struct {
		row  string
		want int
		seq  int64
	}{
		{`{"id":"1","status":"open","_seq":"309840000000000100","_deleted":false}`, hasSeq, 309840000000000100},
		{`{"_seq":309840000000000100}`, hasSeq, 309840000000000100},
		{`{"_seq":"9223372036854775807"}`, hasSeq, math.MaxInt64},
		{`{"_seq":-5}`, hasSeq, -5},
		{`{"_seq":"-5"}`, hasSeq, -5},
		{`{"_seq":"0"}`, hasSeq, 0},
		{` { "a" : 1 , "_seq" : "7" } `, hasSeq, 7},
		{"{\n\t\"_seq\":\r\n\"7\"\n}", hasSeq, 7},
		{`{"\u005fseq":"5"}`, hasSeq, 5},
		{`{"\u005fseq":5}`, hasSeq, 5},
		{`{"_se\u0071":"6","x":"y"}`, hasSeq, 6},
		{`{"_seq":"\u0031\u0032"}`, hasSeq, 12},
		{`{"a":{"_seq":"1"},"_seq":"2"}`, hasSeq, 2},
		{`{"_seq":"2","a":{"_seq":"1"}}`, hasSeq, 2},
		{`{"_seq":"1","_seq":"2"}`, hasSeq, 2},
		{`{"_seq":1.5,"_seq":"3"}`, hasSeq, 3},
		{`{"note":"\"_seq\":\"1\"","_seq":"4"}`, hasSeq, 4},
		{`{"a":[1,{"b":[{"_seq":"9"}]}],"_seq":"8","c":[]}`, hasSeq, 8},

		{`{}`, noSeq, 0},
		{`{"row_id":"r-1"}`, noSeq, 0},
		{`{"_seq":null}`, noSeq, 0},
		{`{"_seq":"1","_seq":null}`, noSeq, 0},
		{`{"a":{"_seq":"1"}}`, noSeq, 0},
		{`{"a":[{"_seq":"1"}]}`, noSeq, 0},
		{`{"_SEQ":"1","_seq ":"2"," _seq":"3","seq":"4"}`, noSeq, 0},
		{`{"\u005fseqx":"1"}`, noSeq, 0},
		{`{"note":"_seq"}`, noSeq, 0},

		{`{"_seq":1.5}`, isErr, 0},
		{`{"_seq":1e3}`, isErr, 0},
		{`{"_seq":"1.5"}`, isErr, 0},
		{`{"_seq":"abc"}`, isErr, 0},
		{`{"_seq":""}`, isErr, 0},
		{`{"_seq":" 1"}`, isErr, 0},
		{`{"_seq":true}`, isErr, 0},
		{`{"_seq":{}}`, isErr, 0},
		{`{"_seq":[1]}`, isErr, 0},
		{`{"_seq":"9223372036854775808"}`, isErr, 0},
		{`{"_seq":9223372036854775808}`, isErr, 0},
		{`{"_seq":"1","_seq":1.5}`, isErr, 0},
		{`[1]`, isErr, 0},
		{`"_seq"`, isErr, 0},
		{`null`, isErr, 0},
		{``, isErr, 0},
		{`1`, isErr, 0},
		{`{`, isErr, 0},
		{`{"_seq"`, isErr, 0},
		{`{"_seq":}`, isErr, 0},
		{`{"_seq":"1"`, isErr, 0},
		{`{"_seq":"1",}`, isErr, 0},
		{`{"_seq" "1"}`, isErr, 0},
		{`{_seq:1}`, isErr, 0},
		{`{"a":tru,"_seq":"1"}`, isErr, 0},
		{`{"a":"x` + "\x01" + `","_seq":"1"}`, isErr, 0},
		{`{"a":[1,2,"_seq":"1"}`, isErr, 0},
		{`{"a":"unterminated,"_seq":"1"}`, isErr, 0},
		{`{"_seq":--1}`, isErr, 0},
		{`{"_seq":01}`, isErr, 0},
		{`{"_seq":"\u00"}`, isErr, 0},
		{`{"a":` + strings.Repeat("[", 10002) + strings.Repeat("]", 10002) + `}`, isErr, 0},
	} {
		got, ok, err := wire.RowSeq(wire.Row(tc.row))
		short := tc.row
		if len(short) > 60 {
			short = short[:60] + "…"
		}
		switch tc.want {
		case hasSeq:
			if err != nil || !ok || int64(got) != tc.seq {
				t.Errorf("RowSeq(%s) = %d, %v, %v; want %d", short, got, ok, err, tc.seq)
			}
		case noSeq:
			if err != nil || ok {
				t.Errorf("RowSeq(%s) = %d, %v, %v; want no _seq", short, got, ok, err)
			}
		case isErr:
			var de *wire.DecodeError
			if !errors.As(err, &de) || ok {
				t.Errorf("RowSeq(%s) = %d, %v, %v; want a DecodeError", short, got, ok, err)
			}
		}
	}
}

// TestRowSeqDeepNesting accepts what encoding/json accepts.
func TestRowSeqDeepNesting(t *testing.T) {
	row := `{"a":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `,"_seq":"3"}`
	if !json.Valid([]byte(row)) {
		t.Fatal("encoding/json refuses the row")
	}
	if s, ok, err := wire.RowSeq(wire.Row(row)); err != nil || !ok || s != 3 {
		t.Errorf("RowSeq = %d %v %v", s, ok, err)
	}
}

// refRowSeq is RowSeq's specification in terms of encoding/json. applies is
// false when encoding/json does not accept row as an object.
func refRowSeq(row []byte) (seq int64, ok, isErr, applies bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(row, &m) != nil || m == nil {
		return 0, false, false, false
	}
	raw, present := m["_seq"]
	if !present || string(raw) == "null" {
		return 0, false, false, true
	}
	var digits string
	switch raw[0] {
	case '"':
		if json.Unmarshal(raw, &digits) != nil {
			return 0, false, true, true
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		digits = string(raw)
	default:
		return 0, false, true, true
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false, true, true
	}
	return v, true, false, true
}

// checkAgainstRef fails when RowSeq and the reference disagree on a row
// encoding/json accepts.
func checkAgainstRef(t testing.TB, row []byte) {
	want, wantOK, wantErr, applies := refRowSeq(row)
	got, ok, err := wire.RowSeq(row)
	if !applies {
		return
	}
	switch {
	case wantErr && err == nil:
		t.Fatalf("RowSeq(%s) = %d, %v; encoding/json says _seq is not an int64", row, got, ok)
	case !wantErr && err != nil:
		t.Fatalf("RowSeq(%s): %v; encoding/json reads %d, %v", row, err, want, wantOK)
	case !wantErr && (ok != wantOK || int64(got) != want):
		t.Fatalf("RowSeq(%s) = %d, %v; encoding/json reads %d, %v", row, got, ok, want, wantOK)
	}
}

// genRow builds a random row: plain columns, nested objects that carry
// their own _seq, escaped and duplicated keys, and _seq values of every kind.
func genRow(r *rand.Rand) []byte {
	var b strings.Builder
	b.WriteString("{")
	n := r.IntN(8)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(genKey(r))
		b.WriteString(":")
		b.WriteString(genValue(r, 0))
	}
	b.WriteString("}")
	return []byte(b.String())
}

func genKey(r *rand.Rand) string {
	keys := []string{`"_seq"`, `"_seq"`, `"_seq"`, `"\u005fseq"`, `"_se\u0071"`, `"_SEQ"`, `"id"`, `"status"`, `"_deleted"`, `"note"`, `"\"_seq\""`, `"_seq "`}
	return keys[r.IntN(len(keys))]
}

func genValue(r *rand.Rand, depth int) string {
	switch k := r.IntN(14); {
	case k < 3:
		return strconv.Quote(strconv.FormatInt(r.Int64()-r.Int64()/2, 10))
	case k < 5:
		return strconv.FormatInt(r.Int64()>>r.IntN(63), 10)
	case k == 5:
		return "null"
	case k == 6:
		return []string{`1.5`, `-0`, `1e3`, `0.0`, `"1.0"`, `"+7"`, `"007"`, `"\u0031\u0032"`, `"  1"`, `"9223372036854775808"`, `-9223372036854775808`, `18446744073709551616`}[r.IntN(12)]
	case k == 7:
		return []string{`true`, `false`, `""`, `"open"`, `"_seq"`, `"\"_seq\":\"1\""`}[r.IntN(6)]
	case k < 11 && depth < 3:
		var b strings.Builder
		b.WriteString("{")
		for i := range r.IntN(3) {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(genKey(r) + ":" + genValue(r, depth+1))
		}
		b.WriteString("}")
		return b.String()
	case depth < 3:
		var b strings.Builder
		b.WriteString("[")
		for i := range r.IntN(3) {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(genValue(r, depth+1))
		}
		b.WriteString("]")
		return b.String()
	default:
		return `"x"`
	}
}

// TestRowSeqMatchesEncodingJSON is the differential test: for many generated
// rows, RowSeq agrees with decoding through encoding/json.
func TestRowSeqMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	applied := 0
	for range 50000 {
		row := genRow(r)
		if _, _, _, ok := refRowSeq(row); ok {
			applied++
		}
		checkAgainstRef(t, row)
	}
	if applied < 45000 {
		t.Fatalf("only %d generated rows were valid JSON objects", applied)
	}
}

func TestCellsAndEncodeRow(t *testing.T) {
	row := wire.EncodeRow([]string{"id", "status", "_seq", "_deleted", "none"},
		[]json.RawMessage{json.RawMessage(`"1"`), json.RawMessage(`"open"`), wire.SeqCell(309840000000000300), json.RawMessage(`false`)})
	want := `{"id":"1","status":"open","_seq":"309840000000000300","_deleted":false,"none":null}`
	if string(row) != want {
		t.Fatalf("EncodeRow = %s", row)
	}
	cells, err := wire.Cells(row)
	if err != nil || len(cells) != 5 || string(cells["_seq"]) != `"309840000000000300"` || string(cells["none"]) != "null" {
		t.Errorf("Cells = %v, %v", cells, err)
	}
	if s, ok, err := wire.RowSeq(row); err != nil || !ok || s != 309840000000000300 {
		t.Errorf("RowSeq = %d %v %v", s, ok, err)
	}
	for _, bad := range []string{`null`, `[1]`, `"x"`, ``, `{`} {
		if _, err := wire.Cells(wire.Row(bad)); err == nil {
			t.Errorf("Cells(%q) accepted", bad)
		}
	}
	if got := wire.EncodeRow([]string{`we"ird`}, nil); string(got) != `{"we\"ird":null}` {
		t.Errorf("escaped key: %s", got)
	}
}

func TestDataTypeRoundTrip(t *testing.T) {
	for _, in := range []string{`"BigInt"`, `"Text"`, `{"Embedding":384}`, `{"Decimal":{"precision":10,"scale":2}}`} {
		var d wire.DataType
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, err := json.Marshal(d)
		if err != nil || string(out) != in {
			t.Errorf("%s → %s, %v", in, out, err)
		}
	}
	var d wire.DataType
	if err := json.Unmarshal([]byte(`"Big\u0049nt"`), &d); err != nil || d.Name != wire.TypeBigInt {
		t.Errorf("escaped name: %+v %v", d, err)
	}
	for _, bad := range []string{`5`, `[]`, `{}`, `{"A":1,"B":2}`, `null`, `true`} {
		var d wire.DataType
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s accepted as %+v", bad, d)
		}
	}
}

func TestDecodeSQLResponse(t *testing.T) {
	for _, body := range []string{
		`{"status":"success","results":[{"row_count":1,"as_user":"a"}],"took":1}`,
		`{"status":"success","results":[{"schema":[],"rows":[],"row_count":0,"as_user":"a"}],"took":1,"error":null}`,
	} {
		r, err := wire.DecodeSQLResponse([]byte(body))
		if err != nil || r.Error != nil || len(r.Results) != 1 {
			t.Errorf("%s: %+v %v", body, r, err)
		}
	}
	r, err := wire.DecodeSQLResponse([]byte(`{"status":"error","results":[],"took":0.2,"error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"}}`))
	if err != nil || r.Error == nil || r.Error.Code != wire.CodeTokenExpired {
		t.Errorf("error form: %+v %v", r, err)
	}
	for _, bad := range []string{`{"status":"error"}`, `{"status":"ok"}`, `{}`, `x`} {
		if _, err := wire.DecodeSQLResponse([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
