// The fuzz targets run natively (their seed corpora in every go test): they
// include gzip frames, which the browser build's decoder does not inflate.

//go:build !js

package wire_test

import (
	"bytes"
	"compress/gzip"
	"errors"
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

// FuzzDecodeLimits runs the decoder with tiny caps so that oversized frames
// and inflated payloads are common: a frame over MaxFrame and a gzip frame
// inflating past MaxInflated must fail with ErrFrameTooLarge, and whatever
// decodes must fit the caps. A truncated copy of every input is tried too.
func FuzzDecodeLimits(f *testing.F) {
	f.Add([]byte(`{"type":"auth_error","message":"Invalid credentials"}`), uint8(200), uint8(200))
	f.Add([]byte(`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"_seq":"1"}]}`), uint8(16), uint8(255))
	f.Add(bytes.Repeat([]byte("a"), 300), uint8(255), uint8(8))
	f.Fuzz(func(t *testing.T, data []byte, maxFrame, maxInflated uint8) {
		d := wire.Decoder{MaxFrame: int64(maxFrame) + 1, MaxInflated: int64(maxInflated) + 1}
		var zipped bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zipped, gzip.BestSpeed)
		_, _ = zw.Write(data)
		_ = zw.Close()
		z := zipped.Bytes()
		for _, in := range []struct {
			binary bool
			frame  []byte
		}{{false, data}, {true, z}, {true, z[:len(z)/2]}, {false, data[:len(data)/2]}} {
			p, err := d.Payload(in.binary, in.frame)
			switch {
			case int64(len(in.frame)) > d.MaxFrame:
				if !errors.Is(err, wire.ErrFrameTooLarge) {
					t.Fatalf("frame of %d bytes over cap %d: err = %v", len(in.frame), d.MaxFrame, err)
				}
				continue
			case err != nil:
				if p != nil || err.Error() == "" {
					t.Fatalf("payload %d bytes with error %v", len(p), err)
				}
				continue
			case in.binary && wire.IsGzip(in.frame) && int64(len(p)) > d.MaxInflated:
				t.Fatalf("inflated %d bytes past cap %d", len(p), d.MaxInflated)
			}
			if m, err := d.Decode(in.binary, in.frame); err == nil {
				if verr := m.Validate(); verr != nil {
					t.Fatalf("decoded message fails Validate: %v", verr)
				}
			} else if m != nil {
				t.Fatalf("message and error: %v", err)
			}
		}
	})
}

// FuzzDecodeSQLResponse feeds arbitrary HTTP bodies to the SQL answer
// decoder: no panic, an error or a response (never both), and a response
// survives a round trip through Encode.
func FuzzDecodeSQLResponse(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","results":[{"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]}],"rows":[["1"]],"row_count":1,"as_user":"alice"}],"took":3.21,"error":null}`,
		`{"status":"error","results":[],"took":1.234,"error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"}}`,
		`{"status":"success","results":[{"row_count":"1"}]}`, `{"status":1}`, `[]`, `{"results":{}}`, `{"status":"success","results":[{"rows":[[1,2],[3]]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := wire.DecodeSQLResponse(body)
		if err != nil {
			if r != nil || err.Error() == "" {
				t.Fatalf("response and error %v", err)
			}
			return
		}
		if r == nil {
			t.Fatal("nil response without error")
		}
		out, err := wire.Encode(r)
		if err != nil {
			t.Fatalf("Encode of a decoded response: %v", err)
		}
		if _, err := wire.DecodeSQLResponse(out); err != nil {
			t.Fatalf("re-decode of an encoded response: %v", err)
		}
	})
}

// FuzzDecodeClient feeds arbitrary bytes to the client-message decoder (the
// server side of the protocol, used by kalamtest): no panic, and a decoded
// message re-encodes to bytes that decode to the same message.
func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","subscription":{"id":"s1","sql":"SELECT * FROM app.t","options":{"batch_size":2,"from":309840123456789504}}}`,
		`{"type":"next_batch","subscription_id":"s1","last_seq_id":309840123456790000}`,
		`{"type":"unsubscribe","subscription_id":"s1"}`, `{"type":"ping"}`,
		`{"type":"authenticate","method":"jwt","token":"x.y.z","protocol":{"serialization":"json","compression":"gzip"}}`,
		`{"type":"next_batch","last_seq_id":"12"}`, `{"type":"subscribe","subscription":{"options":{"from_seq_id":1.5}}}`, `{"type":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := wire.DecodeClient(data)
		if err != nil {
			if m != nil || err.Error() == "" {
				t.Fatalf("message and error %v", err)
			}
			return
		}
		out, err := wire.Encode(m)
		if err != nil {
			t.Fatalf("Encode of a decoded message: %v", err)
		}
		again, err := wire.DecodeClient(out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		a, _ := wire.Encode(again)
		if !bytes.Equal(a, out) {
			t.Fatalf("round trip differs:\n%s\n%s", out, a)
		}
	})
}
