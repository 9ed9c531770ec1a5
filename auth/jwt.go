package auth

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxTokenLen bounds the tokens ParseClaims reads. KalamDB's tokens are a few
// hundred bytes; anything this long is not one of them.
const MaxTokenLen = 64 << 10

// maxUnixSeconds is 9999-12-31T23:59:59Z: later exp/iat values cannot be
// represented as a time.Duration lifetime and are refused.
const maxUnixSeconds = 253402300799

// Claims are the JWT claims the client schedules by (PROTOCOL.md §3.1).
//
// They come from an UNVERIFIED parse: the signature is not checked and the
// values are not trusted for any access decision. Their only use is to guess
// when to refresh and to label the credentials; the server verifies every
// token it receives.
type Claims struct {
	// Subject is "sub": KalamDB's canonical user id.
	Subject string
	// Role is "role": user, service, dba or system.
	Role string
	// TokenType is "token_type": "access" or "refresh".
	TokenType string
	// Issuer is "iss" ("kalamdb" for tokens the server issued itself).
	Issuer string
	// ExpiresAt is "exp"; zero when the claim is absent or null.
	ExpiresAt time.Time
	// IssuedAt is "iat"; zero when the claim is absent or null.
	IssuedAt time.Time
}

// HasExpiry reports whether the token carries an exp claim.
func (c Claims) HasExpiry() bool { return !c.ExpiresAt.IsZero() }

// Lifetime returns exp − iat, the validity the issuer granted, independent of
// the local wall clock. It is zero when either claim is missing or when exp is
// not after iat.
func (c Claims) Lifetime() time.Duration {
	if c.ExpiresAt.IsZero() || c.IssuedAt.IsZero() || !c.ExpiresAt.After(c.IssuedAt) {
		return 0
	}
	return c.ExpiresAt.Sub(c.IssuedAt)
}

// ExpiredAt reports whether exp has passed at now. A token without exp never
// expires by this test. Providers use it to choose between ErrTokenExpired
// and ErrRejected; the client never refuses to present a token because of it
// (the server's clock decides).
func (c Claims) ExpiredAt(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt)
}

// ParseClaims reads a JWT's claims WITHOUT verifying its signature, for
// scheduling only (see [Claims]). The algorithm is not judged either: an
// alg "none" token is read like any other, because rejecting it is the
// server's job and the client must not look like it validates anything.
//
// A token that is not a JWT, or whose exp/iat/sub/role/token_type/iss claims
// have the wrong JSON type, gives a *[MalformedTokenError] (matching
// [ErrMalformedToken]) whose text never contains the token. exp and iat may
// be integers or fractions of Unix seconds, from 0 to year 9999. A token whose
// exp has passed is returned without error.
func ParseClaims(token string) (Claims, error) {
	return parseClaimsWith(token, parseUnverified)
}

// unverifiedReader reads a token's header and claims without verifying the
// signature: golang-jwt's parser on native and wasip1 builds
// (jwt_golangjwt.go), the standard-library reader under js (jwtlight.go).
// It returns the claims with every number as a json.Number, or a
// *MalformedTokenError with one of the fixed reasons declared in
// jwtlight.go. ParseClaims calls it only for tokens precheck let through.
type unverifiedReader func(token string) (map[string]any, error)

// parseClaimsWith is ParseClaims with the reader passed in, so that the
// differential fuzz test can run both readers through the same checks.
func parseClaimsWith(token string, read unverifiedReader) (Claims, error) {
	if reason := precheck(token); reason != "" {
		return Claims{}, &MalformedTokenError{Reason: reason}
	}
	mc, err := read(token)
	if err != nil {
		return Claims{}, err
	}
	var c Claims
	if c.Subject, err = stringClaim(mc, "sub"); err != nil {
		return Claims{}, err
	}
	if c.Role, err = stringClaim(mc, "role"); err != nil {
		return Claims{}, err
	}
	if c.TokenType, err = stringClaim(mc, "token_type"); err != nil {
		return Claims{}, err
	}
	if c.Issuer, err = stringClaim(mc, "iss"); err != nil {
		return Claims{}, err
	}
	if c.ExpiresAt, err = timeClaim(mc, "exp"); err != nil {
		return Claims{}, err
	}
	if c.IssuedAt, err = timeClaim(mc, "iat"); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// FromTokens builds Credentials from an access token and an optional refresh
// token, as [FromTokensAt] with the current time.
func FromTokens(access, refresh string) (Credentials, error) {
	return FromTokensAt(access, refresh, time.Now())
}

// FromTokensAt builds Credentials from an access token (a JWT, read with
// [ParseClaims]) and an optional refresh token (kept opaque: only the server
// reads it).
//
// Lifetime is exp − iat when both claims are present, so a skewed local wall
// clock cannot make a fresh token look expired; the client measures it
// against its monotonic clock from the moment of receipt. Without iat it
// falls back to exp − now; without exp it is zero (unknown: the client then
// waits for the server to refuse the token). A lifetime that comes out zero or
// negative is reported as zero as well: the token is presented and the
// server decides. User and Role come from sub and role.
func FromTokensAt(access, refresh string, now time.Time) (Credentials, error) {
	c, err := ParseClaims(access)
	if err != nil {
		return Credentials{}, err
	}
	cred := Credentials{
		AccessToken:  NewSecret(access),
		RefreshToken: NewSecret(refresh),
		User:         c.Subject,
		Role:         c.Role,
	}
	switch {
	case !c.IssuedAt.IsZero():
		cred.Lifetime = c.Lifetime()
	case !c.ExpiresAt.IsZero():
		cred.Lifetime = max(c.ExpiresAt.Sub(now), 0)
	}
	return cred, nil
}

// precheck refuses, cheaply and with a helpful reason, inputs that cannot be
// a JWT.
func precheck(token string) string {
	switch {
	case token == "":
		return "empty"
	case len(token) > MaxTokenLen:
		return "longer than " + strconv.Itoa(MaxTokenLen) + " bytes"
	case len(token) > 7 && strings.EqualFold(token[:7], "bearer "):
		return "starts with a Bearer scheme; pass the bare token"
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return "contains whitespace, control or non-ASCII bytes"
		}
	}
	if strings.Count(token, ".") != 2 {
		return reasonSegments
	}
	return ""
}

func stringClaim(mc map[string]any, name string) (string, error) {
	v, ok := mc[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &MalformedTokenError{Reason: "claim " + name + " is not a string"}
	}
	return s, nil
}

// timeClaim reads a NumericDate: Unix seconds, integer or fraction.
func timeClaim(mc map[string]any, name string) (time.Time, error) {
	v, ok := mc[name]
	if !ok || v == nil {
		return time.Time{}, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, &MalformedTokenError{Reason: "claim " + name + " is not a number"}
	}
	outOfRange := &MalformedTokenError{Reason: "claim " + name + " is out of range"}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i < 0 || i > maxUnixSeconds {
			return time.Time{}, outOfRange
		}
		return time.Unix(i, 0), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, outOfRange
	}
	if f < 0 || f > maxUnixSeconds {
		return time.Time{}, outOfRange
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))), nil
}
