//go:build race

package sim

// raceEnabled: the race detector slows the simulation about tenfold, so
// the default seed count drops (see defaultSeeds).
const raceEnabled = true
