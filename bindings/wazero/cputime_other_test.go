//go:build !linux

package wazero

import "time"

var benchStart = time.Now()

// threadCPU falls back to wall time where there is no thread CPU clock.
func threadCPU() time.Duration { return time.Since(benchStart) }
