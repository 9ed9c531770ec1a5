//go:build !js

package wire

import (
	"bytes"
	"compress/gzip"
)

// maxRetained is the largest inflate buffer a Decoder keeps between frames.
const maxRetained = 4 << 20

// inflater is a Decoder's reusable gzip state.
type inflater struct {
	zr  *gzip.Reader
	buf []byte
}

// inflate gunzips one frame, refusing more than maxInf bytes of output.
func (d *inflater) inflate(frame []byte, maxInf int64) ([]byte, error) {
	if d.zr == nil {
		zr, err := gzip.NewReader(bytes.NewReader(frame))
		if err != nil {
			return nil, &DecodeError{Reason: "bad gzip header", Err: err}
		}
		d.zr = zr
	} else if err := d.zr.Reset(bytes.NewReader(frame)); err != nil {
		return nil, &DecodeError{Reason: "bad gzip header", Err: err}
	}
	d.zr.Multistream(false)
	if cap(d.buf) > maxRetained {
		d.buf = nil // one huge frame must not pin its buffer forever
	}
	data, tooLarge, err := ReadAtMost(d.zr, d.buf, maxInf)
	d.buf = data[:0]
	if err != nil {
		return nil, &DecodeError{Reason: "bad gzip stream", Err: err}
	}
	if tooLarge {
		return nil, &sizeError{what: "inflated frame", limit: maxInf}
	}
	return data, nil
}

// Compress gzips p when it is at least CompressThreshold bytes and the result
// is smaller, as the server does. (Not in the
// browser build, which has no gzip.) binary reports which frame type to send.
func Compress(p []byte) (frame []byte, binary bool) {
	if len(p) < CompressThreshold {
		return p, false
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	_, _ = zw.Write(p)
	_ = zw.Close()
	if buf.Len() >= len(p) {
		return p, false
	}
	return buf.Bytes(), true
}
