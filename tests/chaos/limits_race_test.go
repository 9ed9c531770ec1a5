//go:build race

package chaos

// burstRows: S34 at a tenth of the size under the race detector
// (see limits_norace_test.go).
const burstRows = 5_000

// congestedBandwidth is S37b's link, in bytes per second.
const congestedBandwidth = 10_000

// browserBurstRows is S37's burst (the page is not slowed by the race
// detector, only the Go side is).
const browserBurstRows = 2_000
