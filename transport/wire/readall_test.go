package wire_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/kalamgo/kalam/transport/wire"
)

func TestReadAtMost(t *testing.T) {
	for _, tc := range []struct {
		n, limit int
		tooLarge bool
	}{
		{0, 10, false}, {10, 10, false}, {11, 10, true}, {5000, 4096, true},
		{4096, 4096, false}, {1 << 20, 1 << 20, false}, {1<<20 + 1, 1 << 20, true},
	} {
		src := bytes.Repeat([]byte{'x'}, tc.n)
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(src),
			"one byte": iotest.OneByteReader(bytes.NewReader(src)),
		} {
			data, tooLarge, err := wire.ReadAtMost(r, nil, int64(tc.limit))
			if err != nil || tooLarge != tc.tooLarge {
				t.Fatalf("%s n=%d limit=%d: tooLarge=%v err=%v", name, tc.n, tc.limit, tooLarge, err)
			}
			if !tooLarge && !bytes.Equal(data, src) {
				t.Fatalf("%s n=%d: read %d bytes", name, tc.n, len(data))
			}
			if tooLarge && len(data) != tc.limit+1 {
				t.Fatalf("%s n=%d: stopped after %d bytes, want limit+1", name, tc.n, len(data))
			}
		}
	}
}

func TestReadAtMostReusesAndReportsErrors(t *testing.T) {
	buf := make([]byte, 0, 64)
	data, _, err := wire.ReadAtMost(strings.NewReader("hello"), buf, 100)
	if err != nil || string(data) != "hello" || &data[0] != &buf[:1][0] {
		t.Fatalf("%q %v: the buffer was not reused", data, err)
	}
	boom := errors.New("boom")
	if _, _, err := wire.ReadAtMost(iotest.ErrReader(boom), nil, 100); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

func TestReadAtMostAllocatesAboutTwiceTheLimit(t *testing.T) {
	const limit = 8 << 20
	endless := io.LimitReader(zeros{}, 1<<40)
	allocs := testing.AllocsPerRun(1, func() {
		if _, tooLarge, _ := wire.ReadAtMost(endless, nil, limit); !tooLarge {
			t.Fatal("an endless body was not refused")
		}
	})
	// Doubling from 4 KiB to 8 MiB is 12 allocations; io.ReadAll's growth
	// would make dozens.
	if allocs > 14 {
		t.Fatalf("%v allocations", allocs)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
