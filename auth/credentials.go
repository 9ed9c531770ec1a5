package auth

import "context"

// Request is what a Provider is asked.
type Request struct {
	Reason Reason
	// Current are the credentials in use (zero on ReasonInitial).
	Current Credentials
	// Endpoint performs login and refresh against the server. It is nil where
	// no HTTP transport exists (a provider that needs it then fails with
	// ErrNoEndpoint).
	Endpoint Endpoint
}

// Endpoint is KalamDB's token service, implemented by the HTTP transport.
type Endpoint interface {
	// Login exchanges a user name and password at /v1/api/auth/login.
	Login(ctx context.Context, user string, password Secret) (Credentials, error)
	// Refresh exchanges a refresh token at /v1/api/auth/refresh.
	Refresh(ctx context.Context, refreshToken Secret) (Credentials, error)
}

// Provider resolves credentials. The client calls it from one goroutine at a
// time (never two calls in flight), on start, before expiry, after the
// server rejects a token, and, for providers that want it, on every
// reconnect. Implementations must honour ctx.
type Provider interface {
	Credentials(ctx context.Context, req Request) (Credentials, error)
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(ctx context.Context, req Request) (Credentials, error)

// Credentials calls f.
func (f ProviderFunc) Credentials(ctx context.Context, req Request) (Credentials, error) {
	return f(ctx, req)
}
