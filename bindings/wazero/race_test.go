//go:build race

package wazerohost

const raceEnabled = true
