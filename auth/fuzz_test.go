package auth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
)

// fixedReasons are the MalformedTokenError reasons that do not name a claim.
var fixedReasons = map[string]bool{
	"empty": true, "longer than 65536 bytes": true,
	"starts with a Bearer scheme; pass the bare token": true,
	"contains whitespace, control or non-ASCII bytes":  true,
	"not three dot-separated segments":                 true,
	"header is not base64url JSON":                     true,
	"claims are not a base64url JSON object":           true,
	"signature is not base64url":                       true,
	"header has no known alg":                          true,
	"unreadable":                                       true,
}

// knownReason reports whether r is one of the texts ParseClaims can produce,
// which proves the error quotes nothing from the input.
func knownReason(r string) bool {
	if fixedReasons[r] {
		return true
	}
	for _, claim := range []string{"sub", "role", "token_type", "iss", "exp", "iat"} {
		for _, what := range []string{" is not a string", " is not a number", " is out of range"} {
			if r == "claim "+claim+what {
				return true
			}
		}
	}
	return false
}

func FuzzParseClaims(f *testing.F) {
	for _, s := range []string{
		mint(hs256, aliceClaims),
		mint(hs256, `{"exp":1777975200.5}`),
		mint(hs256, `{"exp":1e400,"iat":-1}`),
		mint(`{"alg":"none"}`, `{"sub":"a"}`),
		mint(hs256, `{"sub":7}`),
		"a.b.c", "", "Bearer x.y.z", "..", "eyJhbGciOiJIUzI1NiJ9..",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 5, 5, 9, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := auth.ParseClaims(token)
		if err != nil {
			var me *auth.MalformedTokenError
			if !errors.As(err, &me) || !errors.Is(err, auth.ErrMalformedToken) {
				t.Fatalf("error %T %v is not a MalformedTokenError", err, err)
			}
			if !knownReason(me.Reason) {
				t.Fatalf("unexpected reason %q", me.Reason)
			}
			if len(token) >= 24 && strings.Contains(err.Error(), token) {
				t.Fatalf("error quotes the token")
			}
			if _, ferr := auth.FromTokensAt(token, "", now); ferr == nil {
				t.Fatal("FromTokensAt accepted what ParseClaims refused")
			}
			return
		}
		cred, err := auth.FromTokensAt(token, "r", now)
		if err != nil {
			t.Fatalf("FromTokensAt refused what ParseClaims accepted: %v", err)
		}
		if cred.Lifetime < 0 || c.Lifetime() < 0 {
			t.Fatalf("negative lifetime %v / %v", cred.Lifetime, c.Lifetime())
		}
		if !c.IssuedAt.IsZero() && c.HasExpiry() && cred.Lifetime != c.Lifetime() {
			t.Fatalf("Lifetime %v != exp-iat %v", cred.Lifetime, c.Lifetime())
		}
		if cred.User != c.Subject || cred.Role != c.Role || cred.AccessToken.Reveal() != token {
			t.Fatal("credentials do not match the claims")
		}
		_ = c.ExpiredAt(now)
	})
}

// FuzzCredentialsRedaction builds credentials from arbitrary token text
// and checks that no formatting path shows the access or refresh token:
// fmt's %v, %+v, %#v and %s, and JSON.
func FuzzCredentialsRedaction(f *testing.F) {
	f.Add(mint(hs256, aliceClaims), "refresh-secret-value")
	f.Add("not-a-jwt-but-secret", "")
	f.Add(mint(hs256, `{"exp":1,"iat":2}`), mint(hs256, `{"token_type":"refresh"}`))
	f.Fuzz(func(t *testing.T, access, refresh string) {
		cred, err := auth.FromTokensAt(access, refresh, time.Date(2026, 5, 5, 9, 30, 0, 0, time.UTC))
		if err != nil {
			cred = auth.Credentials{AccessToken: auth.NewSecret(access), RefreshToken: auth.NewSecret(refresh)}
		}
		render := func(c auth.Credentials) string {
			out := []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c),
				fmt.Sprintf("%v", c.AccessToken), fmt.Sprintf("%#v", c.RefreshToken)}
			if j, err := json.Marshal(c); err == nil {
				out = append(out, string(j))
			}
			return strings.Join(out, "\n")
		}
		// The same credentials with neutral tokens: text that shows up there
		// (user, role, type names) is not a leak.
		neutral := cred
		neutral.AccessToken, neutral.RefreshToken = auth.NewSecret("x"), auth.NewSecret("y")
		base := render(neutral)
		for _, secret := range []string{access, refresh} {
			if len(secret) < 12 || strings.Contains(base, secret) {
				continue // short strings occur in any text by chance
			}
			for _, s := range []string{render(cred)} {
				if strings.Contains(s, secret) {
					t.Fatalf("a formatting of the credentials shows a token: %q", s)
				}
			}
		}
		if cred.AccessToken.Reveal() != access {
			t.Fatal("Reveal does not return the token")
		}
	})
}
