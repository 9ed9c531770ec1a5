package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

// fastFrames are frames the fast path must take (checked by
// TestDecodeServerFastCovers), so the differential test really exercises it.
var fastFrames = []string{
	changeFrame,
	`{"type":"change","subscription_id":"orders_live","change_type":"update","rows":[{"id":"2","status":"paid","_seq":"309840124000000123"}],"old_values":[{"id":"2","status":"open","_seq":"309840123999999999"}]}`,
	`{"type":"change","subscription_id":"orders_live","change_type":"delete","old_values":[{"id":"2","status":"paid","_seq":"309840124000000456","_deleted":true}]}`,
	`{"type":"change","subscription_id":"events","change_type":"delete","old_values":[{"row_id":"r-17"}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":1},{"b":[1,2,{"c":null}]},{}]}`,
	"\r\n\t {\n \"type\" : \"change\" ,\"subscription_id\"\t:\"s\",\"change_type\":\"insert\",\"rows\" : [ {\"x\" : -0.5e+10 } , {\"y\":\"\\u00e9\\n\\\"\"} ] } \n",
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert"}`,
	`{"type":"change","subscription_id":"s","change_type":"upsert","rows":[{}]}`,
	`{"type":"change","subscription_id":"caf\u00e9","change_type":"insert","rows":[{"_seq":"1"}]}`,
	`{"type":"change","subscription_id":"café ☕","change_type":"insert","rows":[{"n":"日本語","e":"\ud83d\ude00"}]}`,
	"{\"type\":\"change\",\"subscription_id\":\"bad\xffutf8\",\"change_type\":\"insert\",\"rows\":[{\"raw\":\"\xfe\xff\"}]}",
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":1,"a":2}]}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"last_seq_id":"\u0031"}}`,
	`{"type":"change","subscription_id":"s\ud800x","change_type":"insert","rows":[{}]}`,
	`{"type":"initial_data_batch","subscription_id":"orders_live","rows":[{"id":"1","status":"open","_seq":"309840123456789504","_deleted":false}],"batch_control":{"batch_num":0,"has_more":true,"status":"loading","last_seq_id":309840123456789504}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[],"batch_control":{"batch_num":4294967295,"has_more":false,"status":"ready","last_seq_id":null}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"batch_num":3,"has_more":false,"status":"loading_batch","last_seq_id":"-42"}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}]}`,
	`{"type":"error","subscription_id":"subscribe","code":"INVALID_SQL","message":"bad \"sql\"\tnear\u0000 x"}`,
	`{"type":"auth_error","message":"Invalid credentials"}`,
	`{"type":"nouveau","subscription_id":"s"}`,
	`{"type":"","user":"u","role":"r"}`,
	`{}`,
	` {"type":"change"} `,
	// nesting: the row is at depth 3; 512 is the deepest the fast path takes
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":` + strings.Repeat(`{"b":[`, 50) + `1` + strings.Repeat(`]}`, 50) + `}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":` + strings.Repeat("[", 509) + strings.Repeat("]", 509) + `}]}`,
}

// slowFrames are valid or invalid payloads the fast path must leave to
// encoding/json; together with fastFrames they seed the fuzz target.
var slowFrames = []string{
	// other keys and case variants
	`{"Type":"change","subscription_id":"s","change_type":"insert","rows":[{}]}`,
	`{"type":"change","SUBSCRIPTION_ID":"s","change_type":"insert","rows":[{}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{}],"extra":1}`,
	`{"\u0074ype":"change","subscription_id":"s","change_type":"insert","rows":[{}]}`,
	`{"type":"subscription_ack","subscription_id":"s","total_rows":0,"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},"schema":[]}`,
	`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"Batch_Num":1}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"batch_num":1,"extra":2}}`,
	// duplicate keys
	`{"type":"change","type":"error","subscription_id":"s","code":"X"}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":1}],"rows":[{"b":2}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":1}],"rows":null}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"batch_num":1,"batch_num":2}}`,
	// nulls and wrong kinds
	`{"type":null,"subscription_id":"s"}`,
	`{"type":"change","subscription_id":null,"change_type":"insert","rows":[{}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":null}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[null]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[1,"x",{}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":{}}`,
	`{"type":"change","subscription_id":7,"change_type":"insert","rows":[{}]}`,
	`{"type":true}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":null}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"batch_num":-1}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"batch_num":4294967296}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"batch_num":1.0}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"batch_num":1e2}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"batch_num":"1"}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"has_more":null}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"has_more":1}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"last_seq_id":1.5}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"last_seq_id":"x"}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"last_seq_id":99999999999999999999}}`,
	`{"type":"initial_data_batch","subscription_id":"s","rows":[{}],"batch_control":{"last_seq_id":true}}`,
	// invalid JSON: trailing garbage, truncation, bad escapes, bad numbers
	changeFrame + `x`,
	changeFrame + `{}`,
	changeFrame[:len(changeFrame)-1],
	changeFrame[:len(changeFrame)/2],
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":"\x"}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":"\u12"}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":"tab	in"}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":01}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":1.}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":-}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":1e}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":+1}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":tru}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":truex}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":NaN}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":[1,]}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":1,}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{},]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{1:2}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a"}]}`,
	`{"type":"change","subscription_id":"s",}`,
	`{"type":"change" "subscription_id":"s"}`,
	`{"type":"change"`,
	`{"type":"chan`,
	`{"type`,
	`{`,
	``,
	`   `,
	`null`,
	`[]`,
	`"change"`,
	"\ufeff{\"type\":\"change\"}",
	"{\"type\":\"change\"}\x00",
	"{\"type\":\"change\"\v}",
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":` + strings.Repeat("[", 510) + strings.Repeat("]", 510) + `}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}]}`,
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}]}`,
}

// decodeBoth runs DecodeServer and the encoding/json path on data and fails
// t when they disagree.
func decodeBoth(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	in := append([]byte(nil), data...)
	var got, want wire.ServerMessage
	errGot := wire.DecodeServer(in, &got)
	errWant := wire.DecodeServerStd(append([]byte(nil), data...), &want)
	var probe wire.ServerMessage
	fast = wire.DecodeServerFast(append([]byte(nil), data...), &probe)

	if (errGot == nil) != (errWant == nil) ||
		errGot != nil && (errGot.Error() != errWant.Error() || errors.Is(errGot, wire.ErrUnknownType) != errors.Is(errWant, wire.ErrUnknownType)) {
		t.Fatalf("input %q (fast=%v): error %v, encoding/json says %v", data, fast, errGot, errWant)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q (fast=%v):\n got %#v\nwant %#v", data, fast, got, want)
	}
	if fast && !json.Valid(data) {
		t.Fatalf("fast path accepted invalid JSON %q", data)
	}
	checkSeqs(t, data, &got, errGot, fast)
	// The rows own their bytes: scribbling over the payload, or appending to
	// one row, leaves every row as it was.
	rows := append(append([]wire.Row(nil), got.Rows...), got.OldValues...)
	saved := make([]string, len(rows))
	for i, r := range rows {
		saved[i] = string(r)
	}
	for i := range in {
		in[i] = '#'
	}
	for i, r := range rows {
		_ = append(r, "!!!!"...)
		if string(r) != saved[i] {
			t.Fatalf("input %q: row %d changed to %q", data, i, r)
		}
	}
	return fast
}

func TestDecodeServerMatchesStd(t *testing.T) {
	all := append(append([]string(nil), fastFrames...), slowFrames...)
	for _, ex := range serverExamples {
		all = append(all, ex.frame)
	}
	for _, s := range all {
		decodeBoth(t, []byte(s))
	}
}

// TestDecodeServerFastCovers pins which frames take the fast path, so a
// change that quietly sends everything to encoding/json fails here.
func TestDecodeServerFastCovers(t *testing.T) {
	for _, s := range fastFrames {
		if !decodeBoth(t, []byte(s)) {
			t.Errorf("fast path refused %q", s)
		}
	}
	for _, s := range slowFrames {
		if decodeBoth(t, []byte(s)) {
			t.Errorf("fast path took %q", s)
		}
	}
}

// TestDecodeServerRowsShareOneCopy checks the allocation plan: the rows of a
// frame are slices of one private copy, each capped at its own end.
func TestDecodeServerRowsShareOneCopy(t *testing.T) {
	frame := []byte(fastFrames[1])
	var m wire.ServerMessage
	if err := wire.DecodeServer(frame, &m); err != nil {
		t.Fatal(err)
	}
	for _, r := range append(append([]wire.Row(nil), m.Rows...), m.OldValues...) {
		if cap(r) != len(r) {
			t.Errorf("row %q has spare capacity %d", r, cap(r)-len(r))
		}
		if i := bytes.Index(frame, r); i < 0 || &frame[i] == &r[0] {
			t.Errorf("row %q aliases the payload or is missing", r)
		}
	}
}

// FuzzDecodeServerMatchesStd checks DecodeServer against encoding/json alone
// on arbitrary payloads: the same message (rows byte for byte), the same
// error, and the fast path only ever accepts valid JSON.
func FuzzDecodeServerMatchesStd(f *testing.F) {
	for _, s := range fastFrames {
		f.Add([]byte(s))
	}
	for _, s := range slowFrames {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeBoth(t, data)
	})
}

// TestRowSeqNestingLimit pins RowSeq to encoding/json's depth limit: a row
// nested exactly as deep as encoding/json allows is read, one level more is
// an error for both.
func TestRowSeqNestingLimit(t *testing.T) {
	for _, n := range []int{9999, 10000} {
		row := wire.Row(`{"_seq":"7","a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
		valid := json.Valid(row)
		seq, ok, err := wire.RowSeq(row)
		if valid != (err == nil) || valid && (!ok || seq != 7) {
			t.Errorf("depth %d: json.Valid %v, RowSeq %v %v %v", n+1, valid, seq, ok, err)
		}
	}
}

// BenchmarkDecodeServer compares DecodeServer with the encoding/json path it
// replaces, on the live change frame and on a 100-row initial batch (no
// gzip: the decoding alone).
func BenchmarkDecodeServer(b *testing.B) {
	var batch strings.Builder
	batch.WriteString(`{"type":"initial_data_batch","subscription_id":"orders-live","rows":[`)
	for i := range 100 {
		if i > 0 {
			batch.WriteString(",")
		}
		batch.WriteString(`{"id":"` + wire.SeqID(i).String() + `","customer":"c-42","status":"open","total":"199.90","items":3,"note":"leave it at the door","created_at":1777971600000000,"paid":false,"_seq":"` + wire.SeqID(309840000500000000+i).String() + `","_deleted":false}`)
	}
	batch.WriteString(`],"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":309840000500000099}}`)
	for _, fr := range []struct{ name, data string }{{"change", changeFrame}, {"batch100", batch.String()}} {
		for _, path := range []struct {
			name string
			fn   func([]byte, *wire.ServerMessage) error
		}{{"fast", wire.DecodeServer}, {"std", wire.DecodeServerStd}} {
			b.Run(fr.name+"/"+path.name, func(b *testing.B) {
				data := []byte(fr.data)
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					var m wire.ServerMessage
					if err := path.fn(data, &m); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestPlainRun checks the eight-bytes-at-a-time string scan against the
// definition, for every byte value at every position, among ASCII and
// non-ASCII neighbours.
func TestPlainRun(t *testing.T) {
	for _, fill := range []byte{'a', 0xff, 0x80, 0x21, 0x5d} {
		for v := range 256 {
			for p := range 20 {
				buf := bytes.Repeat([]byte{fill}, 20)
				buf[p] = byte(v)
				want := 20
				if v < 0x20 || v == '"' || v == '\\' {
					want = p
				}
				for start := 0; start <= p; start += 3 {
					if got := wire.PlainRun(buf, start); got != want {
						t.Fatalf("fill %#x, byte %#x at %d, from %d: got %d, want %d", fill, v, p, start, got, want)
					}
				}
			}
		}
	}
}

// checkSeqs checks DecodeServerSeqs and DecodeServerIndexed against
// DecodeServer (got, errGot) on data: the same message and error, and each
// row's _seq as RowSeq reads it from the decoded row.
func checkSeqs(t *testing.T, data []byte, got *wire.ServerMessage, errGot error, fast bool) {
	t.Helper()
	var x wire.FrameIndex
	var seqs wire.Seqs
	var m wire.ServerMessage
	err := wire.DecodeServerSeqs(append([]byte(nil), data...), &m, &x, &seqs)
	sameDecode(t, "DecodeServerSeqs", data, &m, err, got, errGot)
	checkRowSeqs(t, data, &m, &seqs, fast)

	var idx wire.FrameIndex
	if wire.IndexServer(data, &idx) != fast {
		t.Fatalf("input %q: IndexServer disagrees with the fast path (fast=%v)", data, fast)
	}
	if !fast {
		return
	}
	// The host's index: the same result without a scan.
	var m2 wire.ServerMessage
	var seqs2 wire.Seqs
	err = wire.DecodeServerIndexed(append([]byte(nil), data...), &idx, &m2, &seqs2)
	sameDecode(t, "DecodeServerIndexed", data, &m2, err, got, errGot)
	checkRowSeqs(t, data, &m2, &seqs2, true)
}

func sameDecode(t *testing.T, what string, data []byte, m *wire.ServerMessage, err error, want *wire.ServerMessage, wantErr error) {
	t.Helper()
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("input %q: %s error %v, DecodeServer says %v", data, what, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(m, want) {
		t.Fatalf("input %q: %s\n got %#v\nwant %#v", data, what, m, want)
	}
}

func checkRowSeqs(t *testing.T, data []byte, m *wire.ServerMessage, seqs *wire.Seqs, wantKnown bool) {
	t.Helper()
	for _, list := range []struct {
		old  bool
		rows []wire.Row
	}{{false, m.Rows}, {true, m.OldValues}} {
		for i, r := range list.rows {
			seq, ok, err, known := seqs.Row(list.old, i)
			if known != wantKnown {
				t.Fatalf("input %q: row %d known=%v, want %v", data, i, known, wantKnown)
			}
			if !known {
				continue
			}
			wseq, wok, werr := wire.RowSeq(r)
			if seq != wseq || ok != wok || (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
				t.Fatalf("input %q: row %d seq %v %v %v, RowSeq says %v %v %v", data, i, seq, ok, err, wseq, wok, werr)
			}
		}
		if _, _, _, known := seqs.Row(list.old, len(list.rows)); known {
			t.Fatalf("input %q: a seq past the rows", data)
		}
	}
}

// TestDecodeServerIndexedBadIndex feeds indexes that do not fit their
// payload: each is refused with ErrBadIndex or, when it passes the checks,
// decodes to some message without a panic.
func TestDecodeServerIndexedBadIndex(t *testing.T) {
	frame := []byte(fastFrames[1])
	var good wire.FrameIndex
	if !wire.IndexServer(frame, &good) {
		t.Fatal("not indexed")
	}
	clone := func() wire.FrameIndex {
		x := good
		x.Rows = append([]wire.RowSpan(nil), good.Rows...)
		return x
	}
	bad := []func(x *wire.FrameIndex){
		func(x *wire.FrameIndex) { x.Fields[wire.FieldType].End = len(frame) + 1 },
		func(x *wire.FrameIndex) { x.Fields[wire.FieldType].Start = -1 },
		func(x *wire.FrameIndex) { x.Fields[wire.FieldType].Start++ },
		func(x *wire.FrameIndex) { x.Rows[0].End-- },
		func(x *wire.FrameIndex) { x.Rows[0].Start++ },
		func(x *wire.FrameIndex) { x.Rows[0].Seq = wire.Span{Start: x.Rows[0].Start, End: x.Rows[0].End} },
		func(x *wire.FrameIndex) { x.HasRows, x.HasOldValues = false, false },
		func(x *wire.FrameIndex) { x.Rows = append(x.Rows, x.Rows[0]) },
		func(x *wire.FrameIndex) { x.BatchControl = x.Rows[0].Span },
	}
	for i, mutate := range bad {
		x := clone()
		mutate(&x)
		var m wire.ServerMessage
		var seqs wire.Seqs
		if err := wire.DecodeServerIndexed(frame, &x, &m, &seqs); !errors.Is(err, wire.ErrBadIndex) {
			t.Errorf("bad index %d: %v, want ErrBadIndex", i, err)
		}
	}
}

// FuzzDecodeServerIndexed points a valid frame's index at arbitrary other
// offsets: no panic, and whatever Check accepts decodes or fails cleanly.
func FuzzDecodeServerIndexed(f *testing.F) {
	f.Add(0, 1, 5, 9, 20)
	f.Add(70, 80, 75, 78, 2)
	f.Fuzz(func(t *testing.T, a, b, c, d, e int) {
		frame := []byte(fastFrames[1])
		var x wire.FrameIndex
		if !wire.IndexServer(frame, &x) {
			t.Fatal("not indexed")
		}
		x.Fields[e&7%wire.NumFields] = wire.Span{Start: a, End: b}
		if len(x.Rows) > 0 {
			x.Rows[0].Seq = wire.Span{Start: c, End: d}
		}
		var m wire.ServerMessage
		var seqs wire.Seqs
		_ = wire.DecodeServerIndexed(frame, &x, &m, &seqs)
		x.BatchControl = wire.Span{Start: a, End: c}
		_ = wire.DecodeServerIndexed(frame, &x, &m, &seqs)
	})
}

// TestDecodeServerSeqsReusesOnlyEqualStrings: a reused message keeps its
// subscription id string only for the same value, never for the same
// bytes under other escapes.
func TestDecodeServerSeqsReusesOnlyEqualStrings(t *testing.T) {
	var m wire.ServerMessage
	var x wire.FrameIndex
	var seqs wire.Seqs
	for _, c := range []struct{ frame, want string }{
		{`{"type":"change","subscription_id":"a\\nb","change_type":"insert","rows":[{}]}`, `a\nb`},
		{`{"type":"change","subscription_id":"a\nb","change_type":"insert","rows":[{}]}`, "a\nb"},
		{`{"type":"change","subscription_id":"s1","change_type":"insert","rows":[{}]}`, "s1"},
		{`{"type":"change","subscription_id":"s1","change_type":"insert","rows":[{}]}`, "s1"},
		{`{"type":"change","subscription_id":"s\u0031","change_type":"insert","rows":[{}]}`, "s1"},
		{`{"type":"change","subscription_id":"s2","change_type":"insert","rows":[{}]}`, "s2"},
	} {
		if err := wire.DecodeServerSeqs([]byte(c.frame), &m, &x, &seqs); err != nil || m.SubscriptionID != c.want {
			t.Fatalf("%s: %q %v, want %q", c.frame, m.SubscriptionID, err, c.want)
		}
	}
}
