package auth_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kalamgo/kalam/auth"
)

const (
	hs256 = `{"alg":"HS256","typ":"JWT"}`
	// alice is PROTOCOL.md §7's A1: one hour, issued 2026-05-05T09:00:00Z.
	aliceClaims = `{"sub":"alice","iss":"kalamdb","exp":1777975200,"iat":1777971600,"email":null,"role":"user","token_type":"access"}`
)

var (
	aliceIat = time.Unix(1777971600, 0)
	aliceExp = time.Unix(1777975200, 0)
)

// mint builds a JWT from raw header and claims JSON with a dummy signature.
// Nothing in the package verifies it, which is the point.
func mint(header, claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + "." + enc([]byte("not-a-real-signature"))
}

// signed builds a genuinely signed HS256 token, as the server would.
func signed(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokenAt returns a token issued at iat for lifetime d.
func tokenAt(sub string, iat time.Time, d time.Duration) string {
	return mint(hs256, `{"sub":"`+sub+`","iss":"kalamdb","exp":`+itoa(iat.Add(d).Unix())+`,"iat":`+itoa(iat.Unix())+`,"role":"user","token_type":"access"}`)
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestParseClaims(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  string
		want   auth.Claims
		reason string // non-empty: expect a MalformedTokenError with this reason
	}{
		{name: "kalamdb access token", token: mint(hs256, aliceClaims),
			want: auth.Claims{Subject: "alice", Role: "user", TokenType: "access", Issuer: "kalamdb", ExpiresAt: aliceExp, IssuedAt: aliceIat}},
		{name: "signed by golang-jwt", token: signed(t, jwt.MapClaims{"sub": "bob", "role": "dba", "exp": 1777975200, "iat": 1777971600, "token_type": "refresh"}),
			want: auth.Claims{Subject: "bob", Role: "dba", TokenType: "refresh", ExpiresAt: aliceExp, IssuedAt: aliceIat}},
		{name: "exp as a fraction", token: mint(hs256, `{"exp":1777975200.5,"iat":1777971600.25}`),
			want: auth.Claims{ExpiresAt: time.Unix(1777975200, 5e8), IssuedAt: time.Unix(1777971600, 25e7)}},
		{name: "exp with an exponent", token: mint(hs256, `{"exp":1.7779752e9}`),
			want: auth.Claims{ExpiresAt: time.Unix(1777975200, 0)}},
		{name: "exp zero is the epoch", token: mint(hs256, `{"exp":0}`),
			want: auth.Claims{ExpiresAt: time.Unix(0, 0)}},
		{name: "largest exp", token: mint(hs256, `{"exp":253402300799}`),
			want: auth.Claims{ExpiresAt: time.Unix(253402300799, 0)}},
		{name: "no iat", token: mint(hs256, `{"sub":"a","exp":1777975200}`),
			want: auth.Claims{Subject: "a", ExpiresAt: aliceExp}},
		{name: "no exp", token: mint(hs256, `{"sub":"a","iat":1777971600}`),
			want: auth.Claims{Subject: "a", IssuedAt: aliceIat}},
		{name: "null claims are absent", token: mint(hs256, `{"sub":null,"exp":null,"iat":null,"role":null}`)},
		{name: "no claims at all", token: mint(hs256, `{}`)},
		{name: "null claim set reads as none", token: mint(hs256, `null`)},
		{name: "unknown claims ignored", token: mint(hs256, `{"aud":["x"],"nbf":1,"custom":{"a":[1,2]},"sub":"a"}`),
			want: auth.Claims{Subject: "a"}},
		{name: "alg none is read, not judged", token: mint(`{"alg":"none"}`, aliceClaims),
			want: auth.Claims{Subject: "alice", Role: "user", TokenType: "access", Issuer: "kalamdb", ExpiresAt: aliceExp, IssuedAt: aliceIat}},
		{name: "alg none without signature", token: strings.TrimSuffix(mint(`{"alg":"none"}`, `{"sub":"a"}`), base64.RawURLEncoding.EncodeToString([]byte("not-a-real-signature"))),
			want: auth.Claims{Subject: "a"}},

		{name: "empty", token: "", reason: "empty"},
		{name: "one segment", token: "abcdef", reason: "not three dot-separated segments"},
		{name: "two segments", token: "abc.def", reason: "not three dot-separated segments"},
		{name: "four segments", token: "a.b.c.d", reason: "not three dot-separated segments"},
		{name: "bearer prefix", token: "Bearer " + mint(hs256, aliceClaims), reason: "starts with a Bearer scheme; pass the bare token"},
		{name: "whitespace", token: mint(hs256, aliceClaims) + "\n", reason: "contains whitespace, control or non-ASCII bytes"},
		{name: "non-ascii", token: "é.é.é", reason: "contains whitespace, control or non-ASCII bytes"},
		{name: "too long", token: strings.Repeat("a", auth.MaxTokenLen) + "..", reason: "longer than 65536 bytes"},
		{name: "header not base64", token: "!!!." + strings.Split(mint(hs256, aliceClaims), ".")[1] + ".sig", reason: "header is not base64url JSON"},
		{name: "header not json", token: mint("not json", aliceClaims), reason: "header is not base64url JSON"},
		{name: "claims not base64", token: strings.Split(mint(hs256, "{}"), ".")[0] + ".%%%.sig", reason: "claims are not a base64url JSON object"},
		{name: "claims an array", token: mint(hs256, `[1,2]`), reason: "claims are not a base64url JSON object"},
		{name: "claims a string", token: mint(hs256, `"secret"`), reason: "claims are not a base64url JSON object"},
		{name: "claims truncated", token: mint(hs256, `{"sub":"ali`), reason: "claims are not a base64url JSON object"},
		{name: "signature not base64", token: strings.TrimSuffix(mint(hs256, "{}"), "ZQ") + "*", reason: "signature is not base64url"},
		{name: "no alg", token: mint(`{"typ":"JWT"}`, aliceClaims), reason: "header has no known alg"},
		{name: "unknown alg", token: mint(`{"alg":"XX999"}`, aliceClaims), reason: "header has no known alg"},
		{name: "exp a string", token: mint(hs256, `{"exp":"1777975200"}`), reason: "claim exp is not a number"},
		{name: "iat a bool", token: mint(hs256, `{"iat":true}`), reason: "claim iat is not a number"},
		{name: "exp an object", token: mint(hs256, `{"exp":{"s":1}}`), reason: "claim exp is not a number"},
		{name: "sub a number", token: mint(hs256, `{"sub":42}`), reason: "claim sub is not a string"},
		{name: "role an array", token: mint(hs256, `{"role":["dba"]}`), reason: "claim role is not a string"},
		{name: "token_type a bool", token: mint(hs256, `{"token_type":false}`), reason: "claim token_type is not a string"},
		{name: "iss a number", token: mint(hs256, `{"iss":1}`), reason: "claim iss is not a string"},
		{name: "exp negative", token: mint(hs256, `{"exp":-1}`), reason: "claim exp is out of range"},
		{name: "exp past year 9999", token: mint(hs256, `{"exp":253402300800}`), reason: "claim exp is out of range"},
		{name: "exp max int64", token: mint(hs256, `{"exp":9223372036854775807}`), reason: "claim exp is out of range"},
		{name: "exp beyond int64", token: mint(hs256, `{"exp":92233720368547758070}`), reason: "claim exp is out of range"},
		{name: "exp 1e300", token: mint(hs256, `{"exp":1e300}`), reason: "claim exp is out of range"},
		{name: "exp 1e400", token: mint(hs256, `{"exp":1e400}`), reason: "claim exp is out of range"},
		{name: "iat negative fraction", token: mint(hs256, `{"iat":-0.5}`), reason: "claim iat is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.ParseClaims(tc.token)
			if tc.reason != "" {
				var me *auth.MalformedTokenError
				if !errors.As(err, &me) || !errors.Is(err, auth.ErrMalformedToken) {
					t.Fatalf("err = %v, want a MalformedTokenError", err)
				}
				if me.Reason != tc.reason {
					t.Errorf("reason = %q, want %q", me.Reason, tc.reason)
				}
				if got != (auth.Claims{}) {
					t.Errorf("claims = %+v on error, want zero", got)
				}
				assertNoLeak(t, err.Error(), tc.token)
				return
			}
			if err != nil {
				t.Fatalf("ParseClaims: %v", err)
			}
			if !got.ExpiresAt.Equal(tc.want.ExpiresAt) || !got.IssuedAt.Equal(tc.want.IssuedAt) {
				t.Errorf("exp/iat = %v/%v, want %v/%v", got.ExpiresAt, got.IssuedAt, tc.want.ExpiresAt, tc.want.IssuedAt)
			}
			got.ExpiresAt, got.IssuedAt, tc.want.ExpiresAt, tc.want.IssuedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if got != tc.want {
				t.Errorf("claims = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFromTokensAt(t *testing.T) {
	now := time.Date(2026, 5, 5, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		access   string
		now      time.Time
		lifetime time.Duration
		user     string
		role     string
	}{
		{name: "exp-iat, wall clock ignored", access: mint(hs256, aliceClaims), now: now, lifetime: time.Hour, user: "alice", role: "user"},
		{name: "clock far ahead: still exp-iat", access: mint(hs256, aliceClaims), now: now.Add(48 * time.Hour), lifetime: time.Hour, user: "alice", role: "user"},
		{name: "clock far behind: still exp-iat", access: mint(hs256, aliceClaims), now: now.Add(-48 * time.Hour), lifetime: time.Hour, user: "alice", role: "user"},
		{name: "fractional claims", access: mint(hs256, `{"exp":100.75,"iat":40.25}`), now: now, lifetime: 60500 * time.Millisecond},
		{name: "no iat: exp-now", access: mint(hs256, `{"sub":"a","exp":1777975200}`), now: now, lifetime: 30 * time.Minute, user: "a"},
		{name: "no iat, exp passed: unknown", access: mint(hs256, `{"exp":1777975200}`), now: aliceExp.Add(time.Second), lifetime: 0},
		{name: "no exp: unknown", access: mint(hs256, `{"sub":"a","role":"dba","iat":1777971600}`), now: now, lifetime: 0, user: "a", role: "dba"},
		{name: "no exp nor iat: unknown", access: mint(hs256, `{}`), now: now, lifetime: 0},
		{name: "exp before iat: unknown", access: mint(hs256, `{"exp":1777971600,"iat":1777975200}`), now: now, lifetime: 0},
		{name: "exp equals iat: unknown", access: mint(hs256, `{"exp":1777971600,"iat":1777971600}`), now: now, lifetime: 0},
		{name: "ten-year token", access: mint(hs256, `{"exp":2093331600,"iat":1777971600}`), now: now, lifetime: 315360000 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := auth.FromTokensAt(tc.access, "opaque-refresh", tc.now)
			if err != nil {
				t.Fatalf("FromTokensAt: %v", err)
			}
			if c.Lifetime != tc.lifetime {
				t.Errorf("Lifetime = %v, want %v", c.Lifetime, tc.lifetime)
			}
			if c.User != tc.user || c.Role != tc.role {
				t.Errorf("User/Role = %q/%q, want %q/%q", c.User, c.Role, tc.user, tc.role)
			}
			if c.AccessToken.Reveal() != tc.access || c.RefreshToken.Reveal() != "opaque-refresh" || c.Anonymous {
				t.Errorf("tokens not kept as given")
			}
		})
	}
}

func TestFromTokensErrors(t *testing.T) {
	if _, err := auth.FromTokens("", "r"); !errors.Is(err, auth.ErrMalformedToken) {
		t.Errorf("empty access: %v", err)
	}
	tok := "eyJhbGciOiJIUzI1NiJ9.not-json-at-all.c2ln"
	_, err := auth.FromTokens(tok, "refresh-secret")
	if !errors.Is(err, auth.ErrMalformedToken) {
		t.Fatalf("garbage access: %v", err)
	}
	assertNoLeak(t, err.Error(), tok, "refresh-secret")
	// The refresh token is opaque: only the server reads it.
	c, err := auth.FromTokens(mint(hs256, aliceClaims), "not a jwt at all")
	if err != nil || c.RefreshToken.Reveal() != "not a jwt at all" {
		t.Errorf("opaque refresh: %v", err)
	}
	// An expired token is returned: the server's clock decides.
	c, err = auth.FromTokens(tokenAt("old", time.Now().Add(-48*time.Hour), time.Hour), "")
	if err != nil || c.Lifetime != time.Hour || c.User != "old" {
		t.Errorf("expired token: %v %v", c, err)
	}
}

func TestClaimsExpiry(t *testing.T) {
	c, err := auth.ParseClaims(mint(hs256, aliceClaims))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{aliceIat, false},
		{aliceExp.Add(-time.Nanosecond), false},
		{aliceExp, true},
		{aliceExp.Add(time.Hour), true},
	} {
		if got := c.ExpiredAt(tc.now); got != tc.want {
			t.Errorf("ExpiredAt(%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
	if !c.HasExpiry() || c.Lifetime() != time.Hour {
		t.Errorf("HasExpiry/Lifetime = %v/%v", c.HasExpiry(), c.Lifetime())
	}
	var none auth.Claims
	if none.ExpiredAt(time.Now()) || none.HasExpiry() || none.Lifetime() != 0 {
		t.Error("claims without exp must never expire")
	}
}

// assertNoLeak fails when s holds any of the secrets, or a recognisable
// piece (a JWT segment) of one.
func assertNoLeak(t testing.TB, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		if strings.Contains(s, sec) {
			t.Errorf("text leaks a secret: %q", s)
			return
		}
		for _, part := range strings.FieldsFunc(sec, func(r rune) bool { return r == '.' || r == ' ' }) {
			if len(part) >= 8 && strings.Contains(s, part) {
				t.Errorf("text leaks part of a secret (%q): %q", part, s)
				return
			}
		}
	}
}
