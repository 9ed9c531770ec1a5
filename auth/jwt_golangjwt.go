//go:build !js

package auth

import (
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// parser is shared: a jwt.Parser holds only options and is safe for
// concurrent use. json.Number keeps exp/iat exact (no float64 rounding of
// large integers) and lets us refuse non-numeric values ourselves.
var parser = jwt.NewParser(jwt.WithJSONNumber())

// parseUnverified is the reader of native and wasip1 builds: golang-jwt's
// ParseUnverified. Under js the standard-library reader replaces it
// (jwt_js.go), because golang-jwt's init registers every signing method and
// so links crypto/rsa, ecdsa, ed25519 and math/big into the browser build.
func parseUnverified(token string) (map[string]any, error) {
	return parseUnverifiedGolangJWT(token)
}

func parseUnverifiedGolangJWT(token string) (map[string]any, error) {
	mc := jwt.MapClaims{}
	if _, _, err := parser.ParseUnverified(token, mc); err != nil {
		// golang-jwt's messages are not quoted here: they are generic today,
		// but a JSON error may one day echo claim text.
		return nil, &MalformedTokenError{Reason: jwtReason(err)}
	}
	return mc, nil
}

// jwtReason maps golang-jwt's parse failures to a fixed text. jwtlight.go
// returns the same texts directly.
func jwtReason(err error) string {
	msg := err.Error()
	for _, r := range []struct{ needle, reason string }{
		{"decode header", reasonHeader},
		{"decode claim", reasonClaims},
		{"decode signature", reasonSignature},
		{"alg", reasonAlg},
		{"segments", reasonSegments},
	} {
		if strings.Contains(msg, r.needle) {
			return r.reason
		}
	}
	return "unreadable"
}
