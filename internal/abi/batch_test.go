package abi

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

func TestBatchFraming(t *testing.T) {
	var b []byte
	items := [][]byte{{1, 2, 3}, {}, bytes.Repeat([]byte{7}, 300)}
	for _, it := range items {
		b = AppendBatchItem(b, it)
	}
	if err := CheckBatch(b); err != nil {
		t.Fatal(err)
	}
	rest := b
	for i, want := range items {
		var got []byte
		var err error
		if got, rest, err = NextBatchItem(rest); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("item %d: %x %v", i, got, err)
		}
	}
	if len(rest) != 0 {
		t.Fatalf("rest %x", rest)
	}
	for _, bad := range [][]byte{{5, 1}, {0x80}, append(AppendBatchItem(nil, []byte{1}), 2)} {
		if err := CheckBatch(bad); !errors.Is(err, ErrTruncated) {
			t.Errorf("CheckBatch(%x) = %v", bad, err)
		}
	}
	resp := append([]byte{0}, b...)
	if got, err := BatchResponse(resp); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("response: %x %v", got, err)
	}
	if _, err := BatchResponse(AppendStatus(nil, ErrTooLarge)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("failed batch: %v", err)
	}
	if _, err := BatchResponse([]byte{0, 9}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("broken response: %v", err)
	}
}

// FuzzDecodeFrame: DecodeFrame reads exactly what DecodeInputIndex reads —
// the same error, or for a frame the same value — and says "not a frame"
// for every other input.
func FuzzDecodeFrame(f *testing.F) {
	for i, in := range sampleInputs() {
		f.Add(encodeInput(f, time.Duration(i), in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var x1, x2 wire.FrameIndex
		now, in, err := DecodeInputIndex(b, &x1)
		fnow, frame, isFrame, ferr := DecodeFrame(b, &x2)
		want, wantFrame := in.(fsm.FrameReceived)
		switch {
		case isFrame && (err == nil) != (ferr == nil):
			t.Fatalf("errors differ: %v vs %v", err, ferr)
		case isFrame && err != nil:
			if err.Error() != ferr.Error() {
				t.Fatalf("errors differ: %v vs %v", err, ferr)
			}
		case isFrame:
			if !wantFrame || fnow != now || frame.Epoch != want.Epoch || frame.Binary != want.Binary ||
				!bytes.Equal(frame.Data, want.Data) || (frame.Index == nil) != (want.Index == nil) ||
				(frame.Index != nil && !reflect.DeepEqual(*frame.Index, *want.Index)) {
				t.Fatalf("frames differ: %+v vs %+v", frame, want)
			}
		case ferr != nil:
			if err == nil || err.Error() != ferr.Error() {
				t.Fatalf("header errors differ: %v vs %v", err, ferr)
			}
		case wantFrame:
			t.Fatal("a frame was not recognised")
		}
	})
}
