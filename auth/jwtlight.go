package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// The fixed reasons of a token that is not a readable JWT. Both readers
// return exactly these; FuzzLightMatchesGolangJWT holds them to it.
const (
	reasonSegments  = "not three dot-separated segments"
	reasonHeader    = "header is not base64url JSON"
	reasonClaims    = "claims are not a base64url JSON object"
	reasonAlg       = "header has no known alg"
	reasonSignature = "signature is not base64url"
)

// knownAlgs are the alg names golang-jwt v5 registers in its init functions,
// "none" included. golang-jwt refuses any other alg even in an unverified
// parse, so the light reader does the same; TestKnownAlgsMatchGolangJWT
// compares this list with jwt.GetAlgorithms.
var knownAlgs = map[string]bool{
	"HS256": true, "HS384": true, "HS512": true,
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true, "none": true,
}

// parseUnverifiedLight reads a JWT's claims without verifying its signature,
// using the standard library only. It accepts and refuses what golang-jwt's
// Parser.ParseUnverified (with WithJSONNumber, no padding or strict-decoding
// options) accepts and refuses, and checks in the same order, so that the
// first failure gives the same reason:
//
//  1. exactly three dot-separated segments;
//  2. the header is unpadded base64url (trailing bits are not checked) of a
//     JSON object or null, with nothing after it but white space; its
//     numbers are float64, so one beyond float64's range is an error;
//  3. the claims are unpadded base64url of a JSON object or null, read by a
//     json.Decoder with UseNumber: whatever follows the first JSON value is
//     ignored, numbers of any size are kept as text;
//  4. the header's alg is a string naming one of [knownAlgs];
//  5. the signature is unpadded base64url (it may be empty).
//
// Duplicate keys keep the last value in both readers (encoding/json's rule).
// The claims map is never nil.
func parseUnverifiedLight(token string) (map[string]any, error) {
	head, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, &MalformedTokenError{Reason: reasonSegments}
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, &MalformedTokenError{Reason: reasonSegments}
	}

	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return nil, &MalformedTokenError{Reason: reasonHeader}
	}
	var header map[string]any
	if err := json.Unmarshal(raw, &header); err != nil {
		return nil, &MalformedTokenError{Reason: reasonHeader}
	}

	raw, err = base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, &MalformedTokenError{Reason: reasonClaims}
	}
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, &MalformedTokenError{Reason: reasonClaims}
	}
	if claims == nil { // the claims were JSON null: golang-jwt reads no claims
		claims = map[string]any{}
	}

	if alg, ok := header["alg"].(string); !ok || !knownAlgs[alg] {
		return nil, &MalformedTokenError{Reason: reasonAlg}
	}

	if _, err := base64.RawURLEncoding.DecodeString(sig); err != nil {
		return nil, &MalformedTokenError{Reason: reasonSignature}
	}
	return claims, nil
}
