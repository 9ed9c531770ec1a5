package wazero

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPU is Linux's CLOCK_THREAD_CPUTIME_ID.
const clockThreadCPU = 3

// threadCPU returns the CPU time the calling OS thread has used. The paired
// benchmarks lock their goroutine to its thread and time each side with
// it, so a side is not charged for the time the scheduler gave other
// processes: on a loaded machine, wall time charges that to whichever side
// runs longer. wazero runs the guest's compiled code on the calling
// goroutine's thread, so the guest's time is in it too.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPU, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic("clock_gettime(CLOCK_THREAD_CPUTIME_ID): " + errno.Error())
	}
	return time.Duration(ts.Nano())
}
