// Package httpapi executes KalamDB's HTTP API: SQL over POST /v1/api/sql,
// login and refresh (so a *Client is an auth.Endpoint), /v1/api/auth/me and
// /health.
//
// Every call takes its token explicitly as an auth.Secret; the Client holds
// none. The token goes out only as "Authorization: Bearer <token>", never in
// a URL, and no error this package returns contains a token, a password or
// the request body: server messages are scrubbed of the secrets that were
// sent, and encoding and decoding errors are described without quoting.
//
// Failures come in four types:
//
//   - *[Error]: the server, or a proxy, answered with an error status (or an
//     SQL body with "status":"error"). All of KalamDB's error shapes map onto
//     it. It matches auth.ErrTokenExpired and auth.ErrRejected where that
//     applies, so the client can tell "refresh and retry" from a failure.
//   - *[TransportError]: no complete response (connection refused, reset,
//     timeout).
//   - *[TooLargeError]: a body over the configured cap.
//   - *[ResponseError]: a 2xx body that is not what the route returns.
//
// [IsRetryable] tells which are worth another attempt.
//
// # Concurrency
//
// A Client is immutable after New and safe for concurrent use. Every call
// blocks until the response body has been read or ctx ends; calls without a
// deadline on ctx are bounded by DefaultAuthTimeout, except SQL, which runs
// as long as ctx allows.
//
// # Wasm
//
// The package builds for js/wasm, where net/http sends requests through the
// browser's fetch (the default client keeps the platform's transport so that
// happens), and for wasip1/wasm, where the host must supply an http.Client
// whose transport works there.
package httpapi
