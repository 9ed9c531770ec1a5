//go:build !race

package wazero

const raceEnabled = false
