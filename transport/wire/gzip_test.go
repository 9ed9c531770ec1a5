//go:build !js

package wire_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

// gzipBomb is 100 MiB of zeros gzipped to about 100 KiB, kept in testdata
// because compressing it anew costs seconds under the race detector.
func gzipBomb(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "bomb-100MiB.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 256<<10 {
		t.Fatalf("bomb is %d bytes compressed", len(b))
	}
	return b
}

func TestGzipBomb(t *testing.T) {
	frame := gzipBomb(t)
	d := wire.Decoder{MaxInflated: 1 << 20}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := d.Decode(true, frame)
	runtime.ReadMemStats(&after)
	if m != nil || !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("Decode = %v, %v; want ErrFrameTooLarge", m, err)
	}
	if !strings.Contains(err.Error(), "inflated frame exceeds 1048576 bytes") {
		t.Errorf("error text %q", err)
	}
	// Inflating stops at the limit: a few MiB at most (more under the race
	// detector, which counts the runtime's own allocations too), not 100.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("allocated %d bytes to refuse the bomb", alloc)
	}
	// The decoder still works afterwards.
	if _, err := d.Decode(true, gz(t, []byte(`{"type":"auth_error","message":"x"}`))); err != nil {
		t.Errorf("after the bomb: %v", err)
	}
}

func TestGzipLimits(t *testing.T) {
	payload := []byte(`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"_seq":"1","note":"` + strings.Repeat("abc", 400) + `"}]}`)
	good := gz(t, payload)
	for _, tc := range []struct {
		name     string
		d        wire.Decoder
		binary   bool
		frame    []byte
		tooLarge bool
		decode   bool // a DecodeError
	}{
		{name: "inflated exactly at the limit", d: wire.Decoder{MaxInflated: int64(len(payload))}, binary: true, frame: good},
		{name: "inflated one byte over", d: wire.Decoder{MaxInflated: int64(len(payload)) - 1}, binary: true, frame: good, tooLarge: true},
		{name: "raw frame over MaxFrame", d: wire.Decoder{MaxFrame: 100}, binary: true, frame: good, tooLarge: true},
		{name: "text frame over MaxFrame", d: wire.Decoder{MaxFrame: 100}, frame: payload, tooLarge: true},
		{name: "text frame at MaxFrame", d: wire.Decoder{MaxFrame: int64(len(payload))}, frame: payload},
		{name: "text is never inflated", d: wire.Decoder{MaxInflated: 1}, frame: payload},
		{name: "truncated gzip", binary: true, frame: good[:len(good)/2], decode: true},
		{name: "gzip missing its trailer", binary: true, frame: good[:len(good)-4], decode: true},
		{name: "bad checksum", binary: true, frame: flipCRC(good), decode: true},
		{name: "magic only", binary: true, frame: []byte{0x1f, 0x8b}, decode: true},
		{name: "bad header", binary: true, frame: []byte{0x1f, 0x8b, 0x99, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3}, decode: true},
		{name: "corrupt deflate data", binary: true, frame: corrupt(good), decode: true},
		{name: "gzip in a text frame is not inflated", frame: good, decode: true},
		{name: "gzip of garbage", binary: true, frame: gz(t, []byte("not json")), decode: true},
		{name: "gzip of nothing", binary: true, frame: gz(t, nil), decode: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.d.Decode(tc.binary, tc.frame)
			switch {
			case tc.tooLarge:
				if !errors.Is(err, wire.ErrFrameTooLarge) {
					t.Fatalf("err = %v, want ErrFrameTooLarge", err)
				}
			case tc.decode:
				var de *wire.DecodeError
				if !errors.As(err, &de) || errors.Is(err, wire.ErrFrameTooLarge) {
					t.Fatalf("err = %v, want a DecodeError", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if s, ok, _ := wire.RowSeq(m.Rows[0]); !ok || s != 1 {
					t.Errorf("row %s", m.Rows[0])
				}
			}
		})
	}
}

func TestCompressRoundTrip(t *testing.T) {
	small := []byte(`{"type":"auth_error","message":"x"}`)
	if f, bin := wire.Compress(small); bin || !bytes.Equal(f, small) {
		t.Error("a small payload must go out as text")
	}
	big := []byte(`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"_seq":"309840000000000300","note":"` + strings.Repeat("x", 2000) + `"}]}`)
	f, bin := wire.Compress(big)
	if !bin || !wire.IsGzip(f) || len(f) >= len(big) {
		t.Fatalf("Compress: binary=%v len %d", bin, len(f))
	}
	var d wire.Decoder
	p, err := d.Payload(true, f)
	if err != nil || !bytes.Equal(p, big) {
		t.Fatalf("Payload: %v", err)
	}
	// Incompressible payloads stay text even when large.
	rnd := make([]byte, 4096)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(rnd)
	if f, bin := wire.Compress(rnd); bin || !bytes.Equal(f, rnd) {
		t.Error("an incompressible payload must go out as it is")
	}
	if wire.IsGzip([]byte{0x1f}) || wire.IsGzip(nil) || !wire.IsGzip([]byte{0x1f, 0x8b}) {
		t.Error("IsGzip")
	}
}

// TestDecoderReuse decodes many frames of different sizes with one Decoder,
// including one large frame, and checks nothing bleeds between them.
func TestDecoderReuse(t *testing.T) {
	var d wire.Decoder
	for i := range 50 {
		note := strings.Repeat("n", (i*7919)%3000)
		if i == 25 {
			note = strings.Repeat("n", 6<<20) // beyond what the decoder keeps
		}
		seq := int64(309840000000000000 + i)
		frame := gz(t, []byte(`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"_seq":"`+
			wire.SeqID(seq).String()+`","note":"`+note+`"}]}`))
		m, err := d.Decode(true, frame)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if s, ok, err := wire.RowSeq(m.Rows[0]); err != nil || !ok || int64(s) != seq {
			t.Fatalf("frame %d: _seq %d %v %v", i, s, ok, err)
		}
	}
}

func flipCRC(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-8] ^= 0xff
	return c
}

func corrupt(b []byte) []byte {
	c := bytes.Clone(b)
	for i := 10; i < len(c)-8; i += 3 {
		c[i] ^= 0x5a
	}
	return c
}

// BenchmarkDecodeBatchGzip decodes a gzip binary initial batch of 100 rows
// (about 20 KiB inflated) with a reused Decoder.
func BenchmarkDecodeBatchGzip(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"type":"initial_data_batch","subscription_id":"orders-live","rows":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"id":"` + wire.SeqID(i).String() + `","customer":"c-42","status":"open","total":"199.90","items":3,"note":"leave it at the door","created_at":1777971600000000,"paid":false,"_seq":"` + wire.SeqID(309840000500000000+i).String() + `","_deleted":false}`)
	}
	sb.WriteString(`],"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":309840000500000099}}`)
	frame, binary := wire.Compress([]byte(sb.String()))
	if !binary {
		b.Fatal("not compressed")
	}
	var d wire.Decoder
	b.SetBytes(int64(sb.Len()))
	b.ReportAllocs()
	for b.Loop() {
		m, err := d.Decode(true, frame)
		if err != nil || len(m.Rows) != 100 {
			b.Fatal(err)
		}
	}
}
