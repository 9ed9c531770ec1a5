package wire_test

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

// FuzzDecode feeds arbitrary bytes to the decoder as a text frame, as a
// binary frame, and gzipped as a binary frame: no panic, and every message
// it returns passes Validate and has rows RowSeq can scan without panicking.
func FuzzDecode(f *testing.F) {
	for _, ex := range serverExamples {
		f.Add([]byte(ex.frame))
	}
	f.Add([]byte(`{"type":"change","subscription_id":"s","change_type":"insert","rows":[1,"x",null,{"_seq":1.5}]}`))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add([]byte(`{"type":"subscription_ack","subscription_id":"s","batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":"1"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := wire.Decoder{MaxFrame: 1 << 20, MaxInflated: 1 << 20}
		var zipped bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zipped, gzip.BestSpeed)
		_, _ = zw.Write(data)
		_ = zw.Close()
		for _, in := range []struct {
			binary bool
			frame  []byte
		}{{false, data}, {true, data}, {true, zipped.Bytes()}} {
			m, err := d.Decode(in.binary, in.frame)
			if err != nil {
				if m != nil {
					t.Fatalf("message and error: %+v, %v", m, err)
				}
				if err.Error() == "" {
					t.Fatal("empty error text")
				}
				continue
			}
			if verr := m.Validate(); verr != nil {
				t.Fatalf("Decode returned a message that fails Validate: %v", verr)
			}
			for _, r := range append(append([]wire.Row(nil), m.Rows...), m.OldValues...) {
				_, _, _ = wire.RowSeq(r)
			}
		}
	})
}

// FuzzRowSeq checks RowSeq against encoding/json on arbitrary input: no
// panic, and whenever encoding/json reads the row as an object, the same
// answer (the _seq value, its absence, or an error for a non-int64 _seq).
func FuzzRowSeq(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","status":"open","_seq":"309840000000000100","_deleted":false}`,
		`{"_seq":309840000000000100}`, `{"_seq":null}`, `{}`, `{"_seq":1.5}`, `{"_seq":"-7"}`,
		`{"\u005fseq":"5"}`, `{"a":{"_seq":"1"},"_seq":"2"}`, `{"_seq":"1","_seq":"2"}`,
		`[1]`, `{"_seq":"x"}`, `{"_seq":"\u0031"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, row []byte) {
		checkAgainstRef(t, row)
	})
}
