package auth

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrMalformedToken: a token is not a well-formed JWT, or a claim this
	// package reads has the wrong type or an impossible value.
	ErrMalformedToken = errors.New("auth: malformed token")
	// ErrTokenExpired: the token's expiry has passed (the server said
	// TOKEN_EXPIRED, or its exp claim is in the past).
	ErrTokenExpired = errors.New("auth: token expired")
	// ErrRejected: the server refused the credentials.
	ErrRejected = errors.New("auth: credentials rejected")
	// ErrNoEndpoint: the provider needs the token service and none was given.
	ErrNoEndpoint = errors.New("auth: no token endpoint")
	// ErrNoCredentials: the provider has no credentials to give.
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrNotRefreshable: the provider holds a fixed token and has nothing
	// newer to offer. The client keeps the current token until it expires.
	ErrNotRefreshable = errors.New("auth: credentials cannot be refreshed")
)

// MalformedTokenError says why a token could not be read. It never holds the
// token or any part of it. It matches ErrMalformedToken.
type MalformedTokenError struct {
	// Reason names what was wrong, e.g. "not three dot-separated segments"
	// or "claim exp is not a number".
	Reason string
}

func (e *MalformedTokenError) Error() string { return "auth: malformed token: " + e.Reason }

// Is makes errors.Is(err, ErrMalformedToken) true.
func (e *MalformedTokenError) Is(target error) bool { return target == ErrMalformedToken }

// ProviderError reports a failure of one of this package's providers. Err is
// the cause (the endpoint's error, the callback's error, or a sentinel of this
// package) and is matched through errors.Is/As.
//
// Error() is scrubbed: any secret the provider knows (its password, the
// tokens it was handed) is replaced by [Redacted], even when a misbehaving
// Endpoint or callback put one into its error text.
type ProviderError struct {
	// Provider names the provider: "basic", "jwt", "dynamic", "token-func",
	// "anonymous".
	Provider string
	// Op names the step that failed: "login", "refresh", "resolve", "parse".
	Op string
	// Err is the cause.
	Err error

	secrets []Secret // pointers inside, so %#v of the struct shows no value
}

func (e *ProviderError) Error() string {
	msg := "auth: " + e.Provider + " provider: " + e.Op
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return scrub(msg, e.secrets)
}

// Unwrap returns the cause.
func (e *ProviderError) Unwrap() error { return e.Err }

// Format prints the scrubbed Error() for every verb, so %#v and %+v cannot
// reach the fields by reflection.
func (e *ProviderError) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = fmt.Fprintf(f, "%q", e.Error())
		return
	}
	_, _ = io.WriteString(f, e.Error())
}

// minScrubLen is the shortest secret scrubbed from error text: replacing
// every "a" of a message because a password is "a" would only garble it.
const minScrubLen = 4

// scrub replaces every occurrence of each secret in msg by Redacted.
func scrub(msg string, secrets []Secret) string {
	for _, sec := range secrets {
		if s := sec.Reveal(); len(s) >= minScrubLen && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, Redacted)
		}
	}
	return msg
}

// secretsOf lists the non-empty secrets among ss, for scrubbing.
func secretsOf(ss ...Secret) []Secret {
	out := make([]Secret, 0, len(ss))
	for _, s := range ss {
		if !s.IsZero() {
			out = append(out, s)
		}
	}
	return out
}
