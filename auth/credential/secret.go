package credential

import "fmt"

// Redacted is what every formatting path prints instead of a secret.
const Redacted = "[REDACTED]"

// Secret holds a token or a password. It prints as [REDACTED] through
// fmt (%v, %s, %q, %#v, %x …), log/slog and encoding/json, so it cannot leak
// into a log line or an error string by accident. Reveal returns the value
// for the one place that must send it.
//
// The value sits behind a pointer so that fmt, which prints unexported
// struct fields by reflection without calling their methods, shows an
// address rather than the token when a Secret or Credentials is an
// unexported field of a struct being printed. Compare secrets with Equal,
// not ==.
type Secret struct{ p *string }

// NewSecret wraps s.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{p: &s}
}

// Reveal returns the secret's value. Call it only where the value goes on
// the wire.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.p == nil || *s.p == "" }

// Equal reports whether two secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return s.Reveal() == o.Reveal() }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s.IsZero() {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return "auth.Secret(" + s.String() + ")" }

// Format implements fmt.Formatter so that no verb (%x included) prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
	case 'q':
		_, _ = fmt.Fprintf(f, "%q", s.String())
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// MarshalJSON writes the redacted form; a Secret is never serialized.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText writes the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
