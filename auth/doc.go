// Package auth holds the client's credentials and the providers that obtain
// them from KalamDB's token service.
//
// A [Provider] answers a [Request]: the client asks on start
// ([ReasonInitial]), shortly before the access token expires
// ([ReasonRefresh]), after the server refused a token ([ReasonRejected]) and,
// for providers that implement [ReconnectResolver] with true, before every
// reconnect ([ReasonReconnect]). The built-in providers:
//
//   - [Basic]: user name and password; logs in, refreshes with the refresh
//     token, and logs in again when the refresh token is refused.
//   - [JWT], [JWTWithRefresh]: a token obtained elsewhere.
//   - [Dynamic], [TokenFunc]: a function of yours, asked every time.
//   - [Anonymous]: no token at all (HTTP only).
//
// Login and refresh go through an [Endpoint], which the HTTP transport
// implements; this package does no I/O of its own.
//
// # Tokens are read, never verified
//
// [ParseClaims] reads a JWT's claims without checking its signature. The
// claims serve scheduling only: when to refresh (the lifetime exp − iat) and
// how to label the credentials (sub, role). Nothing here trusts them for an
// access decision; the server verifies every token it is shown. A token whose
// exp has passed by the local clock is still presented, because the server's
// clock is the one that counts.
//
// # Secrets
//
// Tokens and passwords are held in [Secret], which prints as [Redacted]
// through fmt, log/slog, encoding/json and encoding.TextMarshaler. Errors from
// this package never contain a token or password: parse errors name what was
// wrong without quoting the input, and [ProviderError] scrubs the secrets it
// knows from the text of the errors it wraps.
//
// # Concurrency
//
// Secret, Credentials and Claims are immutable values. The providers returned
// by this package hold no mutable state and are safe for concurrent use,
// although the client never calls one provider from two goroutines at once.
// Every provider checks ctx before doing anything and passes it to the
// Endpoint; a [Dynamic] or [TokenFunc] callback must honour ctx itself.
//
// # Wasm
//
// The package builds for js/wasm and wasip1/wasm. It imports neither net/http
// nor wazero: the HTTP transport implements [Endpoint] from the outside.
//
// Native and wasip1 builds read tokens with golang-jwt's unverified parser.
// The js build (the browser) reads them with a small reader of its own,
// written with encoding/base64 and encoding/json only: golang-jwt registers
// every signing method when it loads, which links crypto/rsa, ecdsa, ed25519
// and math/big: about 300 KB brotli in a build with no other use for them,
// for a parse that never checks a signature. The two readers accept and
// refuse the same tokens, with the same error reasons; a differential fuzz
// test holds them to it on native builds.
package auth
