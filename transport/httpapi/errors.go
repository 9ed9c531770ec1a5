package httpapi

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/wire"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrBadURL: the base URL given to New is not usable.
	ErrBadURL = errors.New("httpapi: invalid base URL")
	// ErrCredentialsInURL: the base URL carries user information
	// (user:password@host). Credentials belong to an auth provider.
	ErrCredentialsInURL = errors.New("httpapi: credentials in base URL")
	// ErrResponseTooLarge: a response body exceeded the client's limit.
	ErrResponseTooLarge = errors.New("httpapi: response body too large")
	// ErrMalformedResponse: a success response whose body is not what the
	// route returns.
	ErrMalformedResponse = errors.New("httpapi: malformed response")
)

// Error is a failure the server (or a proxy in front of it) reported: an HTTP
// status outside 2xx, or an SQL body with "status":"error". It unifies
// KalamDB's five error shapes (PROTOCOL.md §2.4):
//
//   - SQL envelope {"status":"error","error":{"code","message","details"}}:
//     Code, Message and Details from the error object;
//   - auth envelope {"error":"unauthorized","message":…}: Code is the error
//     string ("unauthorized", "rate_limited", …);
//   - topic envelope {"error":…,"code":"NOT_FOUND"}: Code from code, Message
//     from error;
//   - connection-protection middleware {"error":"RATE_LIMIT_EXCEEDED",
//     "message":…,"retry_after_seconds":1}: Code from error, RetryAfter from
//     the Retry-After header or retry_after_seconds;
//   - plain text or HTML: Code empty, Message the first line of a text/plain
//     body (HTML pages are dropped).
//
// Message and Details never hold the token, password or request body that
// was sent: whatever the server echoes, those values are scrubbed.
//
// Error matches auth.ErrRejected for every 401 and for the codes
// INVALID_CREDENTIALS, MISSING_AUTHORIZATION and TOKEN_EXPIRED, and
// auth.ErrTokenExpired for TOKEN_EXPIRED (whatever the status: older SDKs
// accept it under 200 too).
type Error struct {
	// Status is the HTTP status (200 for an SQL body with status "error").
	Status int
	// Code is the machine-readable code: error.code of the SQL envelope, the
	// error string of the auth and middleware envelopes, code of the topic
	// envelope. Empty for plain-text and HTML bodies.
	Code string
	// Message is the human-readable text, possibly empty.
	Message string
	// Details is the SQL envelope's error.details (dba/system callers only).
	Details string
	// RetryAfter is how long the server asked the client to wait (429, 503),
	// zero when it said nothing.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := "httpapi: " + strconv.Itoa(e.Status)
	switch {
	case e.Code != "":
		s += " " + e.Code
	case statusText(e.Status) != "":
		s += " " + statusText(e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is maps the server's refusals onto the auth package's sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case auth.ErrTokenExpired:
		return e.Code == wire.CodeTokenExpired
	case auth.ErrRejected:
		switch e.Code {
		case wire.CodeTokenExpired, wire.CodeInvalidCredentials, wire.CodeMissingAuthorization:
			return true
		}
		return e.Status == 401
	}
	return false
}

// Temporary reports whether the server asked to be retried later: 429 (rate
// limited) and 503 (overloaded, shutting down, not the leader).
func (e *Error) Temporary() bool {
	return e.Status == 429 || e.Status == 503
}

// TransportError is a request that got no complete response: the connection
// failed, timed out or broke while the body was read. Err is the cause from
// net/http (fetch in the browser build).
type TransportError struct {
	Method string
	Path   string
	Err    error

	ctxDone bool // the caller's context ended: not the network's fault
}

func (e *TransportError) Error() string {
	return "httpapi: " + e.Method + " " + e.Path + ": " + e.Err.Error()
}

func (e *TransportError) Unwrap() error { return e.Err }

// TooLargeError reports a response body over the client's limit. It matches
// ErrResponseTooLarge.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return "httpapi: " + e.Path + ": response body exceeds " + strconv.FormatInt(e.Limit, 10) + " bytes"
}

func (e *TooLargeError) Is(target error) bool { return target == ErrResponseTooLarge }

// ResponseError reports a 2xx response whose body could not be used. Reason
// never quotes the body. It matches ErrMalformedResponse; Err, when set, is
// the decoder's error.
type ResponseError struct {
	Path   string
	Status int
	Reason string
	Err    error
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("httpapi: %s: malformed %d response: %s", e.Path, e.Status, e.Reason)
}

func (e *ResponseError) Is(target error) bool { return target == ErrMalformedResponse }

func (e *ResponseError) Unwrap() error { return e.Err }

// URLError reports a base URL New refused. Reason names the problem; the URL
// itself is never quoted (it may carry a password).
type URLError struct {
	Reason      string
	credentials bool
}

func (e *URLError) Error() string { return "httpapi: invalid base URL: " + e.Reason }

// Is matches ErrBadURL, and ErrCredentialsInURL when the URL held user
// information.
func (e *URLError) Is(target error) bool {
	return target == ErrBadURL || (e.credentials && target == ErrCredentialsInURL)
}

// encodeError hides the text of a JSON encoding failure, which can quote the
// value (a request parameter) that failed.
type encodeError struct{ err error }

func (e *encodeError) Error() string {
	return "httpapi: the request cannot be encoded as JSON (a parameter of an unsupported type or value)"
}

func (e *encodeError) Unwrap() error { return e.err }

// IsRetryable reports whether err is worth retrying after a pause: the
// server said 429 or 503, or the request failed in transit. It does not
// consider idempotency: a statement that failed in transit may have run.
// A cancelled or expired caller context is never retryable.
func IsRetryable(err error) bool {
	var he *Error
	if errors.As(err, &he) {
		return he.Temporary()
	}
	var te *TransportError
	return errors.As(err, &te) && !te.ctxDone
}

// RetryAfter returns how long the server asked to wait before retrying err,
// or zero.
func RetryAfter(err error) time.Duration {
	var he *Error
	if errors.As(err, &he) {
		return he.RetryAfter
	}
	return 0
}

// statusText names the statuses KalamDB and the proxies in front of it
// answer with; "" for others. (net/http's table is not linked into the
// browser build.)
func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 413:
		return "Request Entity Too Large"
	case 415:
		return "Unsupported Media Type"
	case 422:
		return "Unprocessable Entity"
	case 429:
		return "Too Many Requests"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return ""
}
