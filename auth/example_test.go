package auth_test

import (
	"context"
	"fmt"
	"time"

	"github.com/kalamgo/kalam/auth"
)

// tokenService stands in for the HTTP transport, which implements
// auth.Endpoint against /v1/api/auth/login and /v1/api/auth/refresh.
type tokenService struct{}

func (tokenService) Login(_ context.Context, user string, password auth.Secret) (auth.Credentials, error) {
	if password.Reveal() != "Secret123!" {
		return auth.Credentials{}, auth.ErrRejected
	}
	return auth.FromTokens(mint(hs256, aliceClaims), "refresh-token")
}

func (tokenService) Refresh(context.Context, auth.Secret) (auth.Credentials, error) {
	return auth.Credentials{}, auth.ErrRejected // refresh token revoked: Basic logs in again
}

func ExampleBasic() {
	p := auth.Basic("alice", "Secret123!")
	ctx := context.Background()

	c, err := p.Credentials(ctx, auth.Request{Reason: auth.ReasonInitial, Endpoint: tokenService{}})
	fmt.Println(c, err)

	// The refresh token is refused, so Basic falls back to a login.
	c, err = p.Credentials(ctx, auth.Request{Reason: auth.ReasonRefresh, Current: c, Endpoint: tokenService{}})
	fmt.Println(c.User, c.Lifetime, err)

	_, err = auth.Basic("alice", "wrong").Credentials(ctx, auth.Request{Endpoint: tokenService{}})
	fmt.Println(err)
	// Output:
	// auth.Credentials{user="alice" role="user" token=[REDACTED] refresh=true lifetime=1h0m0s} <nil>
	// alice 1h0m0s <nil>
	// auth: basic provider: login: auth: credentials rejected
}

func ExampleSecret() {
	pw := auth.NewSecret("Secret123!")
	fmt.Println(pw)
	fmt.Printf("%q %#v %x\n", pw, pw, pw)
	fmt.Println(len(pw.Reveal()))
	// Output:
	// [REDACTED]
	// "[REDACTED]" auth.Secret([REDACTED]) [REDACTED]
	// 10
}

func ExampleFromTokensAt() {
	// exp − iat is one hour, whatever the local clock says.
	skewed := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := auth.FromTokensAt(mint(hs256, aliceClaims), "", skewed)
	fmt.Println(c.User, c.Role, c.Lifetime, err)

	_, err = auth.FromTokensAt("Bearer "+mint(hs256, aliceClaims), "", skewed)
	fmt.Println(err)
	// Output:
	// alice user 1h0m0s <nil>
	// auth: malformed token: starts with a Bearer scheme; pass the bare token
}

func ExampleJWT() {
	tok := mint(hs256, aliceClaims) // expired long ago by the wall clock
	p := auth.JWT(tok)
	c, _ := p.Credentials(context.Background(), auth.Request{Reason: auth.ReasonInitial})
	fmt.Println(c.Lifetime) // handed out anyway: the server decides

	_, err := p.Credentials(context.Background(), auth.Request{Reason: auth.ReasonRejected, Current: c})
	fmt.Println(err)
	// Output:
	// 1h0m0s
	// auth: jwt provider: refresh: auth: token expired
}
