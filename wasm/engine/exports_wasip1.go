//go:build wasip1

package main

import (
	"unsafe"

	"github.com/kalamgo/kalam/internal/abi"
)

var g guest

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

func pack(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return abi.Pack(uint32(addr(b)), uint32(len(b)))
}

//go:wasmexport kalam_abi_version
func kalamABIVersion() uint32 { return abi.Version }

//go:wasmexport kalam_buffer
func kalamBuffer(size int32) uint32 {
	b := g.buffer(int(size))
	if b == nil {
		return 0
	}
	return uint32(addr(b))
}

//go:wasmexport kalam_init
func kalamInit(ptr, n uint32) uint64 {
	req, err := g.request(uintptr(ptr), n, addr(g.req))
	if err != nil {
		return pack(g.fail(err))
	}
	return pack(g.init(req))
}

//go:wasmexport kalam_step
func kalamStep(ptr, n uint32) uint64 {
	req, err := g.request(uintptr(ptr), n, addr(g.req))
	if err != nil {
		return pack(g.fail(err))
	}
	return pack(g.step(req))
}

//go:wasmexport kalam_step_batch
func kalamStepBatch(ptr, n uint32) uint64 {
	req, err := g.request(uintptr(ptr), n, addr(g.req))
	if err != nil {
		return pack(g.fail(err))
	}
	return pack(g.stepBatch(req))
}

//go:wasmexport kalam_view
func kalamView() uint64 { return pack(g.view()) }
