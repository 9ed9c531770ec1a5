package abi

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/kalamgo/kalam/transport/wire"
)

// Primitive encodings (docs/ABI.md, "Primitives"):
//
//	u8      one byte
//	uvarint unsigned LEB128, at most 10 bytes
//	varint  zigzag, then uvarint
//	bool    u8, 0 or 1
//	f64     8 bytes, little-endian IEEE 754
//	bytes   uvarint length, then the bytes
//	string  as bytes (no encoding is imposed)
//	list    uvarint count, then the elements

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendF64(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// decoder reads primitives from b. The first failure sticks: later reads
// return zero values, so a decoding function checks err once at its end.
// Counts are bounded by the bytes left (every element takes at least one),
// so no length in the input can make it allocate more than the input's size
// or loop longer than its length.
type decoder struct {
	b     []byte
	off   int
	err   *Error
	depth int
	idx   *wire.FrameIndex // reused for a frame index, when not nil
}

func (d *decoder) fail(code Code, what string) {
	if d.err == nil {
		d.err = Errorf(code, what+" at byte "+strconv.Itoa(d.off))
	}
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) u8() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail(CodeTruncated, "byte")
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(CodeTruncated, "uvarint")
		return 0
	case n < 0:
		d.fail(CodeBadValue, "uvarint overflows 64 bits")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(CodeTruncated, "varint")
		return 0
	case n < 0:
		d.fail(CodeBadValue, "varint overflows 64 bits")
		return 0
	}
	d.off += n
	return v
}

// int reads a varint that must fit a Go int.
func (d *decoder) int() int {
	v := d.varint()
	if int64(int(v)) != v {
		d.fail(CodeBadValue, "integer out of range")
		return 0
	}
	return int(v)
}

func (d *decoder) bool() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail(CodeBadValue, "bool")
	return false
}

// enum reads a u8 that must be below n.
func (d *decoder) enum(n int, what string) uint8 {
	v := d.u8()
	if int(v) >= n {
		d.fail(CodeBadValue, what+" "+strconv.Itoa(int(v)))
		return 0
	}
	return v
}

func (d *decoder) f64() float64 {
	if d.err != nil {
		return 0
	}
	if d.left() < 8 {
		d.fail(CodeTruncated, "f64")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return math.Float64frombits(v)
}

// bytes returns the next byte string, aliasing the input (nil when empty).
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(d.left()) {
		d.fail(CodeTruncated, "bytes")
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }

// count reads a list length, bounded by the bytes left times min, the
// smallest encoding of one element.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(d.left()/min) {
		d.fail(CodeTruncated, "list")
		return 0
	}
	return int(n)
}

// end fails on trailing bytes and returns the sticky error.
func (d *decoder) end() *Error {
	if d.err == nil && d.off != len(d.b) {
		d.fail(CodeBadValue, "trailing bytes")
	}
	return d.err
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
