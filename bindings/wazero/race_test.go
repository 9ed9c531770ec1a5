//go:build race

package wazero

const raceEnabled = true
