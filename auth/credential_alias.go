package auth

import "github.com/kalamgo/kalam/auth/credential"

// The credential types and sentinels live in package auth/credential, which
// the engine imports without pulling in the providers and their JWT and
// crypto dependencies. They are the same types and values under auth's
// names: an auth.Credentials is a credential.Credentials, and errors.Is
// matches either spelling of a sentinel.

type (
	// Credentials are what a Provider hands to the client; see
	// credential.Credentials.
	Credentials = credential.Credentials
	// Secret holds a token or a password and prints as Redacted; see
	// credential.Secret.
	Secret = credential.Secret
	// Reason says why credentials are being asked for; see
	// credential.Reason.
	Reason = credential.Reason
	// MalformedTokenError says why a token could not be read; it matches
	// ErrMalformedToken.
	MalformedTokenError = credential.MalformedTokenError
)

// Redacted is what every formatting path prints instead of a secret.
const Redacted = credential.Redacted

// Reasons for asking a Provider.
const (
	// ReasonInitial: the client has no credentials yet.
	ReasonInitial = credential.ReasonInitial
	// ReasonRefresh: the access token is close to expiry (proactive).
	ReasonRefresh = credential.ReasonRefresh
	// ReasonRejected: the server refused the current token.
	ReasonRejected = credential.ReasonRejected
	// ReasonReconnect: a new socket is about to be opened.
	ReasonReconnect = credential.ReasonReconnect
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrMalformedToken: a token is not a well-formed JWT, or a claim this
	// package reads has the wrong type or an impossible value.
	ErrMalformedToken = credential.ErrMalformedToken
	// ErrTokenExpired: the token's expiry has passed.
	ErrTokenExpired = credential.ErrTokenExpired
	// ErrRejected: the server refused the credentials.
	ErrRejected = credential.ErrRejected
	// ErrNoEndpoint: the provider needs the token service and none was given.
	ErrNoEndpoint = credential.ErrNoEndpoint
	// ErrNoCredentials: the provider has no credentials to give.
	ErrNoCredentials = credential.ErrNoCredentials
	// ErrNotRefreshable: the provider holds a fixed token and has nothing
	// newer to offer.
	ErrNotRefreshable = credential.ErrNotRefreshable
)

// NewSecret wraps s.
func NewSecret(s string) Secret { return credential.NewSecret(s) }
