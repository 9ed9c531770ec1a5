package wire

import (
	"errors"
	"io"
)

// ReadAtMost reads r to its end into buf (reused when it has room) and
// reports whether it held more than limit bytes, in which case it stops
// after limit+1 bytes. The buffer doubles as it fills, so refusing an
// oversized body costs at most about twice the limit in allocations, where
// io.ReadAll's gentler growth would cost several times it.
func ReadAtMost(r io.Reader, buf []byte, limit int64) (data []byte, tooLarge bool, err error) {
	data = buf[:0]
	if cap(data) == 0 {
		data = make([]byte, 0, 4096)
	}
	for {
		if len(data) == cap(data) {
			next := 2 * cap(data)
			if int64(next) > limit+1 {
				next = int(limit + 1)
			}
			if next <= len(data) {
				return data, true, nil // full at limit+1 bytes
			}
			grown := make([]byte, len(data), next)
			copy(grown, data)
			data = grown
		}
		n, rerr := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > limit {
			return data, true, nil
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return data, false, nil
			}
			return data, false, rerr
		}
	}
}
