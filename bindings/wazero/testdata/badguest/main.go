//go:build wasip1

// Command badguest is a misbehaving kalam engine for the host's tests: it
// speaks the ABI's exports, but bad_mode makes its responses wrong in one
// chosen way each.
package main

import (
	"unsafe"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
)

const (
	modeGood = iota
	modePtrOutOfRange
	modeLenOutOfRange
	modeEmpty
	modeTruncated
	modeUnknownEffect
	modeUnknownStatus
	modePanic
	modeHang
	modeNoBuffer
	modeBufferOutOfRange
	modeBadEnum
	modeBatchShort       // a batch answered with fewer responses than requests
	modeBatchBroken      // a batch response whose framing runs past its end
	modeWrongVersion = 1 // with startMode "x"
)

// startMode is set with -ldflags=-X main.startMode=N to misbehave before
// the host can call bad_mode (the version check).
var startMode string

var (
	mode = int32(len(startMode))
	req  = make([]byte, 4096)
	resp []byte
)

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func out(b []byte) uint64 {
	resp = b
	return abi.Pack(addr(b), uint32(len(b)))
}

//go:wasmexport bad_mode
func badMode(m int32) { mode = m }

//go:wasmexport kalam_abi_version
func version() uint32 {
	if startMode != "" {
		return abi.Version + 1
	}
	return abi.Version
}

//go:wasmexport kalam_buffer
func buffer(size int32) uint32 {
	switch mode {
	case modeNoBuffer:
		return 0
	case modeBufferOutOfRange:
		return 0xfffff000
	}
	if int(size) > len(req) {
		req = make([]byte, size)
	}
	return addr(req)
}

//go:wasmexport kalam_init
func initEngine(ptr, n uint32) uint64 { return out([]byte{0}) }

//go:wasmexport kalam_view
func view() uint64 { return out(abi.AppendView(nil, abi.View{})) }

//go:wasmexport kalam_step
func step(ptr, n uint32) uint64 {
	good, _ := abi.AppendStep(nil, nil, fsm.StateAuthed, []fsm.Effect{fsm.Dial{Epoch: 1}, fsm.Send{Epoch: 1, Data: []byte("hello")}})
	switch mode {
	case modePtrOutOfRange:
		return abi.Pack(0xfffffff0, 64)
	case modeLenOutOfRange:
		out(good)
		return abi.Pack(addr(good), 0x7fffffff)
	case modeEmpty:
		return 0
	case modeTruncated:
		return out(good[:len(good)-3])
	case modeUnknownEffect:
		return out([]byte{0, 0, 1, 1, 200, 0})
	case modeUnknownStatus:
		return out([]byte{250, 0})
	case modeBadEnum:
		return out([]byte{0, 0, 99, 0})
	case modePanic:
		panic("badguest: deliberate panic")
	case modeHang:
		for {
			mode++ // never returns; the host's deadline must stop it
		}
	}
	return out(good)
}

//go:wasmexport kalam_step_batch
func stepBatch(ptr, n uint32) uint64 {
	switch mode {
	case modeBatchShort:
		return out([]byte{0})
	case modeBatchBroken:
		return out([]byte{0, 9, 1})
	}
	items := []byte{0}
	for rest := req[:n]; len(rest) > 0; {
		var err error
		if _, rest, err = abi.NextBatchItem(rest); err != nil {
			return out(abi.AppendStatus(nil, err.(*abi.Error)))
		}
		step(ptr, n) // leaves its response in resp
		items = abi.AppendBatchItem(items, resp)
	}
	return out(items)
}

func main() {}
