package credential

import "errors"

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
