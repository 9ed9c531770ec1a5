package abi

import (
	"bytes"
	"errors"
	"testing"
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
