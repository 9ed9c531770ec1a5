//go:build !wasip1

package credential

import "log/slog"

// The slog.LogValuer methods. They are left out of wasip1 builds, where the
// engine runs as a WASI guest that never logs: importing log/slog would link
// its default logger (about 90 KB of the guest). Without them a Credentials
// or Secret handed to slog still prints redacted, through Format and
// MarshalJSON.

// LogValue implements slog.LogValuer.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user", c.User),
		slog.String("role", c.Role),
		slog.Bool("anonymous", c.Anonymous),
		slog.Bool("refreshable", !c.RefreshToken.IsZero()),
		slog.Duration("lifetime", c.Lifetime),
	)
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
