package auth

import (
	"context"
	"errors"
	"time"
)

// ReconnectResolver is implemented by providers that say whether the client
// must ask them before every (re)connect. Dynamic and TokenFunc return true:
// the function behind them may hand out a different token each time. Basic,
// JWT and Anonymous return false: the client reuses what it holds until it
// is due for refresh or refused.
type ReconnectResolver interface {
	ResolveOnReconnect() bool
}

// ResolvesOnReconnect reports whether p wants to be asked before every
// reconnect. Providers that do not implement [ReconnectResolver] (a plain
// [ProviderFunc], for one) are asked only when credentials are missing, due
// or refused.
func ResolvesOnReconnect(p Provider) bool {
	r, ok := p.(ReconnectResolver)
	return ok && r.ResolveOnReconnect()
}

// Basic returns a provider that logs in with a user name and password.
//
//   - ReasonInitial: Endpoint.Login.
//   - ReasonRefresh, ReasonRejected: Endpoint.Refresh with the current refresh
//     token; when there is none, or the server refuses it (ErrRejected), it
//     logs in again. Other refresh failures (network, rate limit) are
//     returned as they are, so the client can retry later without burning a
//     login attempt.
//   - ReasonReconnect: the current credentials when they hold a token,
//     otherwise a login.
//
// The password is kept as a [Secret]. Every call needs Request.Endpoint
// (ErrNoEndpoint without it).
func Basic(user, password string) Provider {
	return &basicProvider{user: user, password: NewSecret(password)}
}

type basicProvider struct {
	user     string
	password Secret
}

func (p *basicProvider) ResolveOnReconnect() bool { return false }

func (p *basicProvider) Credentials(ctx context.Context, req Request) (Credentials, error) {
	fail := func(op string, err error) (Credentials, error) {
		return Credentials{}, &ProviderError{Provider: "basic", Op: op, Err: err,
			secrets: secretsOf(p.password, req.Current.AccessToken, req.Current.RefreshToken)}
	}
	if err := ctx.Err(); err != nil {
		return fail("resolve", err)
	}
	switch req.Reason {
	case ReasonReconnect:
		if !req.Current.AccessToken.IsZero() {
			return req.Current, nil
		}
	case ReasonRefresh, ReasonRejected:
		if req.Endpoint == nil {
			return fail("refresh", ErrNoEndpoint)
		}
		if !req.Current.RefreshToken.IsZero() {
			c, err := req.Endpoint.Refresh(ctx, req.Current.RefreshToken)
			switch {
			case err == nil:
				return c, nil
			case !errors.Is(err, ErrRejected) && !errors.Is(err, ErrTokenExpired):
				return fail("refresh", err)
			}
			if err := ctx.Err(); err != nil {
				return fail("refresh", err)
			}
		}
	}
	if req.Endpoint == nil {
		return fail("login", ErrNoEndpoint)
	}
	c, err := req.Endpoint.Login(ctx, p.user, p.password)
	if err != nil {
		return fail("login", err)
	}
	return c, nil
}

// JWT returns a provider holding one fixed access token. It hands the token
// out on ReasonInitial and ReasonReconnect. It has nothing newer to offer, so:
//
//   - ReasonRefresh gives an error wrapping ErrNotRefreshable (the client
//     keeps using the token until it expires);
//   - ReasonRejected gives an error wrapping ErrTokenExpired when the token's
//     exp has passed by the local clock, ErrRejected otherwise. It never
//     returns the token that was just refused.
//
// A token that is not a JWT fails every call with ErrMalformedToken. It needs
// no Endpoint.
func JWT(access string) Provider {
	return &jwtProvider{access: NewSecret(access)}
}

// JWTWithRefresh is [JWT] plus a refresh token: on ReasonRefresh and
// ReasonRejected it exchanges the current refresh token (the one last
// issued, else refresh) at Endpoint.Refresh. A refused refresh gives an error
// wrapping ErrRejected or ErrTokenExpired; with no password there is nothing
// to fall back on. Refreshing needs Request.Endpoint (ErrNoEndpoint without
// it).
func JWTWithRefresh(access, refresh string) Provider {
	return &jwtProvider{access: NewSecret(access), refresh: NewSecret(refresh)}
}

type jwtProvider struct {
	access, refresh Secret
}

func (p *jwtProvider) ResolveOnReconnect() bool { return false }

func (p *jwtProvider) Credentials(ctx context.Context, req Request) (Credentials, error) {
	fail := func(op string, err error) (Credentials, error) {
		return Credentials{}, &ProviderError{Provider: "jwt", Op: op, Err: err,
			secrets: secretsOf(p.access, p.refresh, req.Current.AccessToken, req.Current.RefreshToken)}
	}
	if err := ctx.Err(); err != nil {
		return fail("resolve", err)
	}
	own, err := FromTokens(p.access.Reveal(), p.refresh.Reveal())
	if err != nil {
		return fail("parse", err)
	}
	switch req.Reason {
	case ReasonInitial:
		return own, nil
	case ReasonReconnect:
		if !req.Current.AccessToken.IsZero() {
			return req.Current, nil
		}
		return own, nil
	}
	// ReasonRefresh, ReasonRejected (and any future reason): something newer
	// than Current is needed.
	if p.refresh.IsZero() {
		if !req.Current.AccessToken.IsZero() && !req.Current.AccessToken.Equal(p.access) {
			return own, nil // Current came from elsewhere; ours is news
		}
		if req.Reason == ReasonRefresh {
			return fail("refresh", ErrNotRefreshable)
		}
		return fail("refresh", p.refusal())
	}
	if req.Endpoint == nil {
		return fail("refresh", ErrNoEndpoint)
	}
	rt := req.Current.RefreshToken
	if rt.IsZero() {
		rt = p.refresh
	}
	c, err := req.Endpoint.Refresh(ctx, rt)
	if err != nil {
		return fail("refresh", err)
	}
	return c, nil
}

// refusal is the error of a static token the server refused.
func (p *jwtProvider) refusal() error {
	if c, err := ParseClaims(p.access.Reveal()); err == nil && c.ExpiredAt(time.Now()) {
		return ErrTokenExpired
	}
	return ErrRejected
}

// Dynamic returns a provider that calls fn for every request: on start, on
// every connect and reconnect ([ReconnectResolver] is true), before expiry
// and after a refusal. fn sees the Request, so it can log in, refresh or
// fetch a token from elsewhere as it sees fit.
//
// When fn returns a token without a Lifetime, the token's claims fill in
// Lifetime, User and Role (when it is a JWT; an opaque token is passed on
// as it is). On ReasonRejected, fn handing back the very token that was
// refused is an error wrapping ErrRejected rather than a retry loop.
func Dynamic(fn func(ctx context.Context, req Request) (Credentials, error)) Provider {
	return &dynamicProvider{fn: fn}
}

type dynamicProvider struct {
	fn func(ctx context.Context, req Request) (Credentials, error)
}

func (p *dynamicProvider) ResolveOnReconnect() bool { return true }

func (p *dynamicProvider) Credentials(ctx context.Context, req Request) (Credentials, error) {
	fail := func(err error, extra ...Secret) (Credentials, error) {
		return Credentials{}, &ProviderError{Provider: "dynamic", Op: "resolve", Err: err,
			secrets: secretsOf(append(extra, req.Current.AccessToken, req.Current.RefreshToken)...)}
	}
	if p.fn == nil {
		return fail(ErrNoCredentials)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	c, err := p.fn(ctx, req)
	if err != nil {
		return fail(err, c.AccessToken, c.RefreshToken)
	}
	if !c.Usable() {
		return fail(ErrNoCredentials)
	}
	if refused(req, c) {
		return fail(ErrRejected, c.AccessToken, c.RefreshToken)
	}
	return fillFromClaims(c), nil
}

// TokenFunc returns a provider that calls fn for a raw access JWT on every
// request, like [Dynamic]; Lifetime, User and Role come from the token's
// claims. An empty token is an error wrapping ErrNoCredentials, a token that
// is not a JWT one wrapping ErrMalformedToken, and, on ReasonRejected, the
// refused token again one wrapping ErrRejected.
func TokenFunc(fn func(ctx context.Context) (string, error)) Provider {
	return &tokenFuncProvider{fn: fn}
}

type tokenFuncProvider struct {
	fn func(ctx context.Context) (string, error)
}

func (p *tokenFuncProvider) ResolveOnReconnect() bool { return true }

func (p *tokenFuncProvider) Credentials(ctx context.Context, req Request) (Credentials, error) {
	fail := func(op string, err error, tok string) (Credentials, error) {
		return Credentials{}, &ProviderError{Provider: "token-func", Op: op, Err: err,
			secrets: secretsOf(NewSecret(tok), req.Current.AccessToken, req.Current.RefreshToken)}
	}
	if p.fn == nil {
		return fail("resolve", ErrNoCredentials, "")
	}
	if err := ctx.Err(); err != nil {
		return fail("resolve", err, "")
	}
	tok, err := p.fn(ctx)
	if err != nil {
		return fail("resolve", err, tok)
	}
	if tok == "" {
		return fail("resolve", ErrNoCredentials, "")
	}
	c, err := FromTokens(tok, "")
	if err != nil {
		return fail("parse", err, tok)
	}
	if refused(req, c) {
		return fail("resolve", ErrRejected, tok)
	}
	return c, nil
}

// Anonymous returns a provider of anonymous credentials: HTTP calls go out
// without Authorization and no socket can be opened. On ReasonRejected (the
// server wants a token) it gives an error wrapping ErrRejected, since it has
// nothing else to offer.
func Anonymous() Provider { return anonymousProvider{} }

// IsAnonymous reports whether p is the Anonymous provider, which never
// holds a secret.
func IsAnonymous(p Provider) bool {
	_, ok := p.(anonymousProvider)
	return ok
}

type anonymousProvider struct{}

func (anonymousProvider) ResolveOnReconnect() bool { return false }

func (anonymousProvider) Credentials(ctx context.Context, req Request) (Credentials, error) {
	if err := ctx.Err(); err != nil {
		return Credentials{}, &ProviderError{Provider: "anonymous", Op: "resolve", Err: err}
	}
	if req.Reason == ReasonRejected {
		return Credentials{}, &ProviderError{Provider: "anonymous", Op: "resolve", Err: ErrRejected}
	}
	return Credentials{Anonymous: true}, nil
}

// refused reports whether c hands back the token the server just refused.
func refused(req Request, c Credentials) bool {
	return req.Reason == ReasonRejected && !c.Anonymous &&
		!c.AccessToken.IsZero() && c.AccessToken.Equal(req.Current.AccessToken)
}

// fillFromClaims completes credentials a callback built by hand.
func fillFromClaims(c Credentials) Credentials {
	if c.Anonymous || (c.Lifetime != 0 && c.User != "" && c.Role != "") {
		return c
	}
	parsed, err := FromTokens(c.AccessToken.Reveal(), "")
	if err != nil {
		return c
	}
	if c.Lifetime == 0 {
		c.Lifetime = parsed.Lifetime
	}
	if c.User == "" {
		c.User = parsed.User
	}
	if c.Role == "" {
		c.Role = parsed.Role
	}
	return c
}
