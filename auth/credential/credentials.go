package credential

import (
	"encoding/json"
	"fmt"
	"time"
)

// Credentials are what a Provider hands to the client: an access token and
// what is known about its lifetime.
//
// All formatting paths (String, GoString, Format, LogValue, MarshalJSON)
// redact the tokens.
type Credentials struct {
	// AccessToken is the JWT sent as "Authorization: Bearer" and in the
	// WebSocket authenticate message. Empty for anonymous credentials.
	AccessToken Secret
	// RefreshToken, when set, lets a provider exchange it at
	// /v1/api/auth/refresh instead of logging in again.
	RefreshToken Secret
	// Lifetime is how long AccessToken stays valid, measured when the
	// credentials were received. Zero means the expiry is unknown: the client
	// never refreshes proactively and relies on the server saying
	// TOKEN_EXPIRED or refusing the socket.
	Lifetime time.Duration
	// User and Role are informational (read from the token's claims when
	// present).
	User string
	Role string
	// Anonymous marks credentials with no token: HTTP calls go out without
	// Authorization, and the socket cannot be opened.
	Anonymous bool
}

// Usable reports whether c can authenticate anything: a token, or explicit
// anonymous access.
func (c Credentials) Usable() bool { return c.Anonymous || !c.AccessToken.IsZero() }

// String implements fmt.Stringer without revealing a token.
func (c Credentials) String() string {
	if c.Anonymous {
		return "auth.Credentials{anonymous}"
	}
	return fmt.Sprintf("auth.Credentials{user=%q role=%q token=%s refresh=%t lifetime=%s}",
		c.User, c.Role, c.AccessToken.String(), !c.RefreshToken.IsZero(), c.Lifetime)
}

// GoString implements fmt.GoStringer.
func (c Credentials) GoString() string { return c.String() }

// Format implements fmt.Formatter; every verb prints String().
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = fmt.Fprintf(f, "%q", c.String())
		return
	}
	_, _ = f.Write([]byte(c.String()))
}

// MarshalJSON writes the same redacted summary as LogValue; the tokens are
// never serialized.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		User        string        `json:"user,omitempty"`
		Role        string        `json:"role,omitempty"`
		Anonymous   bool          `json:"anonymous,omitempty"`
		Token       string        `json:"token,omitempty"`
		Refreshable bool          `json:"refreshable"`
		Lifetime    time.Duration `json:"lifetime_ns"`
	}{c.User, c.Role, c.Anonymous, c.AccessToken.String(), !c.RefreshToken.IsZero(), c.Lifetime})
}

// Reason says why credentials are being asked for.
type Reason uint8

const (
	// ReasonInitial: the client has no credentials yet.
	ReasonInitial Reason = iota
	// ReasonRefresh: the access token is close to expiry (proactive).
	ReasonRefresh
	// ReasonRejected: the server refused the current token (TOKEN_EXPIRED,
	// auth_error, close 1008). Returning the same token again is pointless.
	ReasonRejected
	// ReasonReconnect: a new socket is about to be opened; dynamic providers
	// are asked every time, static ones may return what they have.
	ReasonReconnect
)

func (r Reason) String() string {
	switch r {
	case ReasonInitial:
		return "initial"
	case ReasonRefresh:
		return "refresh"
	case ReasonRejected:
		return "rejected"
	case ReasonReconnect:
		return "reconnect"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}
