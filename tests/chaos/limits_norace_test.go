//go:build !race

package chaos

// The bursts of S34 at the full size. Under the race detector
// (limits_race_test.go) they are a tenth of it: the detector slows the
// writer, the server and the client about tenfold, and the scenario must
// stay well under a minute on two cores.
const burstRows = 50_000

// congestedBandwidth is S37b's link, in bytes per second: far below what
// the writer produces (some 400 KB/s of change frames).
const congestedBandwidth = 10_000

// browserBurstRows is S37's burst, in the browser build.
const browserBurstRows = 5_000
