package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/wire"
)

// Login exchanges a user name and password at POST /v1/api/auth/login.
//
// The credentials' Lifetime is exp − iat of the access token (see
// auth.FromTokensAt); when the token carries no exp, or is not a JWT, the
// response's expires_at gives it instead (measured against the local clock).
// User and Role come from the response's user object. A wrong password gives
// an *Error matching auth.ErrRejected.
func (c *Client) Login(ctx context.Context, user string, password auth.Secret) (auth.Credentials, error) {
	body, err := json.Marshal(wire.LoginRequest{User: user, Password: password.Reveal()})
	if err != nil {
		return auth.Credentials{}, &encodeError{err}
	}
	resp, err := c.do(ctx, call{method: "POST", path: wire.PathLogin, body: body,
		secrets: []auth.Secret{password}, authTimeout: true})
	if err != nil {
		return auth.Credentials{}, err
	}
	return credentialsFrom(wire.PathLogin, resp, time.Now())
}

// Refresh exchanges a refresh token at POST /v1/api/auth/refresh and returns
// the new pair (both tokens are replaced). A refused or expired refresh token
// gives an *Error matching auth.ErrRejected: log in again.
//
// KalamDB reads the kalamdb_refresh cookie before the header; an HTTPClient
// with a cookie jar may therefore refresh with a different token.
func (c *Client) Refresh(ctx context.Context, refreshToken auth.Secret) (auth.Credentials, error) {
	if refreshToken.IsZero() {
		return auth.Credentials{}, fmt.Errorf("httpapi: refresh: %w", auth.ErrNoCredentials)
	}
	resp, err := c.do(ctx, call{method: "POST", path: wire.PathRefresh, token: refreshToken,
		secrets: []auth.Secret{refreshToken}, authTimeout: true})
	if err != nil {
		return auth.Credentials{}, err
	}
	return credentialsFrom(wire.PathRefresh, resp, time.Now())
}

// credentialsFrom reads a login/refresh body.
func credentialsFrom(path string, resp response, now time.Time) (auth.Credentials, error) {
	var lr wire.LoginResponse
	if err := json.Unmarshal(resp.body, &lr); err != nil {
		// The body holds tokens: the decoder's text is not passed on.
		return auth.Credentials{}, &ResponseError{Path: path, Status: resp.status, Reason: "body is not a login response"}
	}
	if lr.AccessToken == "" {
		return auth.Credentials{}, &ResponseError{Path: path, Status: resp.status, Reason: "no access_token"}
	}
	cred, err := auth.FromTokensAt(lr.AccessToken, lr.RefreshToken, now)
	if err != nil {
		// Not a JWT we can read: the server still issued it, so use it.
		cred = auth.Credentials{AccessToken: auth.NewSecret(lr.AccessToken), RefreshToken: auth.NewSecret(lr.RefreshToken)}
	}
	if cred.Lifetime == 0 && !lr.ExpiresAt.IsZero() {
		cred.Lifetime = max(lr.ExpiresAt.Sub(now), 0)
	}
	if lr.User.ID != "" {
		cred.User = lr.User.ID
	}
	if lr.User.Role != "" {
		cred.Role = lr.User.Role
	}
	return cred, nil
}

// SQL runs req at POST /v1/api/sql with "Authorization: Bearer <token>"; a
// zero token sends no Authorization header (anonymous). Both success forms
// are accepted (error absent, or null).
//
// A server refusal is an *Error: TOKEN_EXPIRED matches auth.ErrTokenExpired
// (refresh and retry once), INVALID_CREDENTIALS and MISSING_AUTHORIZATION
// match auth.ErrRejected, and an SQL failure carries its code, e.g.
// SQL_EXECUTION_ERROR. An answer with "status":"error" under HTTP 200 is an
// *Error too.
func (c *Client) SQL(ctx context.Context, token auth.Secret, req wire.SQLRequest) (*wire.SQLResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, &encodeError{err}
	}
	resp, err := c.do(ctx, call{method: "POST", path: wire.PathSQL, token: token, body: body,
		secrets: []auth.Secret{token}})
	if err != nil {
		return nil, err
	}
	r, err := wire.DecodeSQLResponse(resp.body)
	if err != nil {
		return nil, &ResponseError{Path: wire.PathSQL, Status: resp.status, Reason: "body is not an SQL response", Err: err}
	}
	if r.Status == wire.StatusError {
		return nil, &Error{Status: resp.status, Code: r.Error.Code,
			Message: scrubText(r.Error.Message, []auth.Secret{token}), Details: scrubText(r.Error.Details, []auth.Secret{token})}
	}
	return r, nil
}

// Me returns the user behind token, from GET /v1/api/auth/me.
func (c *Client) Me(ctx context.Context, token auth.Secret) (*wire.MeResponse, error) {
	resp, err := c.do(ctx, call{method: "GET", path: wire.PathMe, token: token,
		secrets: []auth.Secret{token}, authTimeout: true})
	if err != nil {
		return nil, err
	}
	me := new(wire.MeResponse)
	if err := json.Unmarshal(resp.body, me); err != nil || me.User.ID == "" {
		return nil, &ResponseError{Path: wire.PathMe, Status: resp.status, Reason: "body is not a user", Err: err}
	}
	return me, nil
}

// Health calls GET /health. KalamDB answers it only to loopback callers;
// anyone else gets an *Error with status 403.
func (c *Client) Health(ctx context.Context) (*wire.HealthResponse, error) {
	resp, err := c.do(ctx, call{method: "GET", path: wire.PathHealth, authTimeout: true})
	if err != nil {
		return nil, err
	}
	h := new(wire.HealthResponse)
	if err := json.Unmarshal(resp.body, h); err != nil || h.Status == "" {
		return nil, &ResponseError{Path: wire.PathHealth, Status: resp.status, Reason: "body is not a health report", Err: err}
	}
	return h, nil
}
