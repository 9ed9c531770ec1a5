package auth

import (
	"fmt"
	"io"
	"strings"
)

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
