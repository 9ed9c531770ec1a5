package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// These tables check the standard-library reader on its own, on every
// build (js included, where it is the only reader). jwtlight_diff_test.go
// holds it to golang-jwt's behaviour on native builds.

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// tok builds a token from raw header and claims JSON and a raw signature
// segment.
func tok(header, claims, sig string) string { return b64(header) + "." + b64(claims) + "." + sig }

const lightHS256 = `{"alg":"HS256","typ":"JWT"}`

func TestParseUnverifiedLightReads(t *testing.T) {
	sig := b64("signature")
	for _, tc := range []struct {
		name  string
		token string
		want  map[string]any
	}{
		{"plain", tok(lightHS256, `{"sub":"alice","exp":1777975200}`, sig),
			map[string]any{"sub": "alice", "exp": json.Number("1777975200")}},
		{"alg none, empty signature", tok(`{"alg":"none"}`, `{"sub":"a"}`, ""), map[string]any{"sub": "a"}},
		{"every registered alg: EdDSA", tok(`{"alg":"EdDSA"}`, `{}`, sig), map[string]any{}},
		{"claims null read as none", tok(lightHS256, `null`, sig), map[string]any{}},
		{"claims with surrounding white space", tok(`{"alg":"PS384"}`, ` {"a":1} `, sig),
			map[string]any{"a": json.Number("1")}},
		{"numbers stay text", tok(lightHS256, `{"exp":1e400,"iat":1.50,"n":123456789012345678901234567890}`, sig),
			map[string]any{"exp": json.Number("1e400"), "iat": json.Number("1.50"), "n": json.Number("123456789012345678901234567890")}},
		{"duplicate claim: last wins", tok(lightHS256, `{"sub":"a","sub":"b"}`, sig), map[string]any{"sub": "b"}},
		{"duplicate alg: last wins", tok(`{"alg":"nope","alg":"ES512"}`, `{}`, sig), map[string]any{}},
		{"nested values", tok(lightHS256, `{"x":{"y":[1,{"z":null}]}}`, sig),
			map[string]any{"x": map[string]any{"y": []any{json.Number("1"), map[string]any{"z": nil}}}}},
		{"data after the claims object is ignored", tok(lightHS256, `{"sub":"a"}garbage`, sig), map[string]any{"sub": "a"}},
		{"second claims object is ignored", tok(lightHS256, `{"sub":"a"}{"sub":"b"}`, sig), map[string]any{"sub": "a"}},
		{"signature trailing bits not checked", tok(lightHS256, `{}`, "ab"), map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUnverifiedLight(tc.token)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestParseUnverifiedLightRefuses(t *testing.T) {
	sig := b64("signature")
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"two segments", b64(lightHS256) + "." + b64(`{}`), reasonSegments},
		{"four segments", tok(lightHS256, `{}`, sig) + ".x", reasonSegments},
		{"no dot", "abc", reasonSegments},
		{"header padded", b64(`{"alg":"HS256"}`) + "=." + b64(`{}`) + ".", reasonHeader},
		{"header standard alphabet", "eyJ+bGciOiJIUzI1NiJ9." + b64(`{}`) + ".", reasonHeader},
		{"header length 1 mod 4", "eyJhb." + b64(`{}`) + ".", reasonHeader},
		{"header empty", tok(``, `{}`, sig), reasonHeader},
		{"header array", tok(`[]`, `{}`, sig), reasonHeader},
		{"header string", tok(`"HS256"`, `{}`, sig), reasonHeader},
		{"header trailing data", tok(lightHS256+` x`, `{}`, sig), reasonHeader},
		{"header number beyond float64", tok(`{"alg":"HS256","x":1e400}`, `{}`, sig), reasonHeader},
		{"header fine but claims bad base64", b64(lightHS256) + ".e30=." + sig, reasonClaims},
		{"header checked before claims", tok(`[]`, `[]`, sig), reasonHeader},
		{"claims empty", tok(lightHS256, ``, sig), reasonClaims},
		{"claims array", tok(lightHS256, `[{"sub":"a"}]`, sig), reasonClaims},
		{"claims string", tok(lightHS256, `"sub"`, sig), reasonClaims},
		{"claims number", tok(lightHS256, `12`, sig), reasonClaims},
		{"claims truncated", tok(lightHS256, `{"sub":"a"`, sig), reasonClaims},
		{"claims checked before alg", tok(`{}`, `[]`, sig), reasonClaims},
		{"header null", tok(`null`, `{}`, sig), reasonAlg},
		{"alg missing", tok(`{"typ":"JWT"}`, `{}`, sig), reasonAlg},
		{"alg unknown", tok(`{"alg":"HS999"}`, `{}`, sig), reasonAlg},
		{"alg wrong case", tok(`{"alg":"hs256"}`, `{}`, sig), reasonAlg},
		{"alg not a string", tok(`{"alg":256}`, `{}`, sig), reasonAlg},
		{"alg checked before signature", tok(`{"alg":"x"}`, `{}`, "abc="), reasonAlg},
		{"signature padded", tok(lightHS256, `{}`, "abc="), reasonSignature},
		{"signature length 1 mod 4", tok(lightHS256, `{}`, "abcde"), reasonSignature},
		{"signature standard alphabet", tok(lightHS256, `{}`, "ab+/"), reasonSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUnverifiedLight(tc.token)
			var me *MalformedTokenError
			if !errors.As(err, &me) || !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("got %#v, %v; want a MalformedTokenError", got, err)
			}
			if me.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", me.Reason, tc.reason)
			}
			if got != nil {
				t.Fatalf("claims %#v returned with the error", got)
			}
		})
	}
}

// TestParseClaimsUsesLightReaderRules runs ParseClaims itself (whichever
// reader the build selected) over the light reader's corner cases, so the js
// build's test run covers the path the browser takes.
func TestParseClaimsUsesLightReaderRules(t *testing.T) {
	c, err := ParseClaims(tok(`{"alg":"none"}`, `{"sub":"a","exp":2,"iat":1}garbage`, ""))
	if err != nil || c.Subject != "a" || c.Lifetime() != 1e9 {
		t.Fatalf("got %+v, %v", c, err)
	}
	_, err = ParseClaims(tok(`{"alg":"HS256","x":1e400}`, `{}`, ""))
	var me *MalformedTokenError
	if !errors.As(err, &me) || me.Reason != reasonHeader {
		t.Fatalf("got %v, want reason %q", err, reasonHeader)
	}
}
