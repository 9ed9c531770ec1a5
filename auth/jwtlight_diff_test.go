//go:build !js

// The differential tests need golang-jwt, which js builds never link (see
// jwt_js.go); under js jwtlight_test.go's tables check the light reader on
// its own.

package auth

import (
	"encoding/base64"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestKnownAlgsMatchGolangJWT fails when golang-jwt registers an alg the
// light reader does not know, or stops registering one it does: the two
// readers would then disagree on "header has no known alg".
func TestKnownAlgsMatchGolangJWT(t *testing.T) {
	got := jwt.GetAlgorithms()
	var want []string
	for alg := range knownAlgs {
		want = append(want, alg)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("golang-jwt registers %q; knownAlgs has %q", got, want)
	}
}

// sameReading fails t unless both readers, and ParseClaims built on each,
// give the same outcome for token: the same MalformedTokenError reason, or
// the same claims map and the same Claims.
func sameReading(t *testing.T, token string) {
	t.Helper()
	lm, lerr := parseUnverifiedLight(token)
	gm, gerr := parseUnverifiedGolangJWT(token)
	if lr, gr := reasonOf(t, lerr), reasonOf(t, gerr); lr != gr {
		t.Fatalf("reader: light says %q, golang-jwt says %q", lr, gr)
	}
	if !reflect.DeepEqual(lm, gm) {
		t.Fatalf("reader: light read %#v, golang-jwt read %#v", lm, gm)
	}

	lc, lerr := parseClaimsWith(token, parseUnverifiedLight)
	gc, gerr := parseClaimsWith(token, parseUnverifiedGolangJWT)
	if lr, gr := reasonOf(t, lerr), reasonOf(t, gerr); lr != gr {
		t.Fatalf("ParseClaims: light says %q, golang-jwt says %q", lr, gr)
	}
	if lc != gc {
		t.Fatalf("ParseClaims: light read %+v, golang-jwt read %+v", lc, gc)
	}
}

// reasonOf returns the reason of a *MalformedTokenError, "" for nil, and
// fails t for any other error.
func reasonOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var me *MalformedTokenError
	if !errors.As(err, &me) {
		t.Fatalf("error %T %v is not a MalformedTokenError", err, err)
	}
	if me.Reason == "" || me.Reason == "unreadable" {
		t.Fatalf("reason %q: a parse failure jwtReason does not recognise", me.Reason)
	}
	return me.Reason
}

// FuzzLightMatchesGolangJWT feeds the same text to the light reader and to
// golang-jwt's. The seed corpus (testdata/fuzz) covers padding, bad
// base64, non-object headers and claims, unknown, missing and non-string
// algs, alg none, trailing data, duplicate keys, odd numbers, nested values
// and empty segments.
func FuzzLightMatchesGolangJWT(f *testing.F) {
	f.Fuzz(func(t *testing.T, token string) { sameReading(t, token) })
}

// FuzzLightMatchesGolangJWTParts does the same from decoded segments, so
// that the fuzzer mutates JSON rather than base64 text and reaches the
// decoders' corners sooner. sig is used as written (it may be bad base64).
func FuzzLightMatchesGolangJWTParts(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Fuzz(func(t *testing.T, header, claims []byte, sig string) {
		sameReading(t, enc(header)+"."+enc(claims)+"."+sig)
	})
}

// BenchmarkUnverifiedReader compares the two readers on a typical KalamDB
// access token.
func BenchmarkUnverifiedReader(b *testing.B) {
	enc := base64.RawURLEncoding.EncodeToString
	token := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc([]byte(`{"sub":"alice","iss":"kalamdb","exp":1777975200,"iat":1777971600,"email":null,"role":"user","token_type":"access"}`)) + "." +
		enc([]byte("0123456789abcdef0123456789abcdef"))
	for _, r := range []struct {
		name string
		read unverifiedReader
	}{{"golang-jwt", parseUnverifiedGolangJWT}, {"light", parseUnverifiedLight}} {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.read(token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
