package kalam

import (
	"net"
	"strings"
	"testing"
)

// TestIsLoopbackMatchesNet: isLoopback parses with net/netip so that the
// browser build does not link net; it must answer as net.ParseIP did.
func TestIsLoopbackMatchesNet(t *testing.T) {
	hosts := []string{"127.0.0.1", "127.1.2.3", "127.255.255.255", "126.0.0.1", "10.0.0.1",
		"::1", "[::1]", "::2", "::", "0.0.0.0", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]",
		"::ffff:10.0.0.1", "0:0:0:0:0:0:0:1", "::1%lo0", "[::1%25lo0]", "127.1", "127.000.0.1",
		"127.0.0.1.", "localhost", "LOCALHOST.", "localhost.evil.example", "127.evil.example",
		"", "[]", "1.2.3.4.5", "fe80::1", "::127.0.0.1"}
	for _, h := range hosts {
		if got, want := isLoopback(h), netLoopback(h); got != want {
			t.Errorf("isLoopback(%q) = %v, net.ParseIP says %v", h, got, want)
		}
	}
}

// FuzzIsLoopbackMatchesNet holds isLoopback to net.ParseIP on any input.
func FuzzIsLoopbackMatchesNet(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1", "::1%x", "localhost"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if got, want := isLoopback(h), netLoopback(h); got != want {
			t.Errorf("isLoopback(%q) = %v, net.ParseIP says %v", h, got, want)
		}
	})
}

// netLoopback is isLoopback as it was written with net.ParseIP.
func netLoopback(host string) bool {
	h := strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
