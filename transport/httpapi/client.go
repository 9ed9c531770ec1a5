package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kalamgo/kalam/auth"
)

// DefaultMaxResponseBytes caps response bodies when Options.MaxResponseBytes
// is zero: 64 MiB, the inflate ceiling the official Rust client uses too.
const DefaultMaxResponseBytes = 64 << 20

// DefaultAuthTimeout bounds Login, Refresh, Me and Health when the caller's
// context has no deadline. SQL has no default bound: a statement may run as
// long as the caller's context allows.
const DefaultAuthTimeout = 30 * time.Second

// maxErrorBody is how much of an error response is read; the rest is
// dropped, since only the envelope matters.
const maxErrorBody = 64 << 10

// maxMessage caps Message taken from a plain-text error body.
const maxMessage = 256

// Options configure a Client. The zero value is ready to use.
type Options struct {
	// HTTPClient performs the requests (see [HTTPClient]). Nil means a
	// client of this package's own: net/http's default transport settings
	// (30 s dial, 10 s TLS handshake, 90 s idle connections), up to 16 idle
	// connections per host, and redirects returned rather than followed
	// (KalamDB never redirects; following one would resend the
	// Authorization header). In the browser build requests go through the
	// platform's fetch, which refuses redirects for the same reason.
	HTTPClient *HTTPClient
	// MaxResponseBytes caps every response body, after transport
	// decompression. Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Client calls KalamDB's HTTP API. It is safe for concurrent use and holds no
// credentials: every call that needs one takes the token explicitly.
type Client struct {
	base    string // scheme://host[/prefix], no trailing slash
	hc      *HTTPClient
	maxBody int64
}

var _ auth.Endpoint = (*Client)(nil)

// New returns a Client for the server at baseURL (for example
// "http://127.0.0.1:8080", or "https://example.com/kalam" behind a path
// prefix). hc may be nil (see Options.HTTPClient).
//
// The URL must be absolute http or https, with a host, and without a query,
// a fragment or user information. A URL with user:password gives an error
// matching ErrCredentialsInURL; no error ever quotes the URL.
func New(baseURL string, hc *HTTPClient) (*Client, error) {
	return NewWithOptions(baseURL, &Options{HTTPClient: hc})
}

// NewWithOptions is New with every option. opts may be nil.
func NewWithOptions(baseURL string, opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	base, err := parseBase(baseURL)
	if err != nil {
		return nil, err
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return &Client{base: base, hc: o.HTTPClient, maxBody: o.MaxResponseBytes}, nil
}

// BaseURL returns the normalized base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

func parseBase(raw string) (string, error) {
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return "", &URLError{Reason: "contains spaces or control characters", credentials: strings.Contains(raw, "@")}
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the input, which may hold a password.
		return "", &URLError{Reason: "not a valid URL", credentials: strings.Contains(raw, "@")}
	}
	switch {
	case u.User != nil:
		return "", &URLError{Reason: "contains user information; give credentials to an auth provider instead", credentials: true}
	case u.Scheme != "http" && u.Scheme != "https":
		return "", &URLError{Reason: "scheme must be http or https (the WebSocket URL is derived from it)"}
	case u.Opaque != "" || u.Host == "":
		return "", &URLError{Reason: "has no host"}
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", &URLError{Reason: "must not have a query or fragment"}
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// call is one request.
type call struct {
	method, path string
	token        auth.Secret   // zero: no Authorization header
	body         []byte        // nil: no body
	secrets      []auth.Secret // scrubbed from any server text
	authTimeout  bool          // apply DefaultAuthTimeout without a deadline
}

// response is a complete 2xx response.
type response struct {
	status int
	body   []byte
}

// do runs c and returns the body of a 2xx response, or an error: *Error for
// any other status, *TransportError, *TooLargeError.
func (c *Client) do(ctx context.Context, cl call) (response, error) {
	caller := ctx // our own default timeout is not the caller giving up
	if cl.authTimeout {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, DefaultAuthTimeout)
			defer cancel()
		}
	}
	header := make([][2]string, 0, 3)
	header = append(header, [2]string{"Accept", "application/json"})
	if cl.body != nil {
		header = append(header, [2]string{"Content-Type", "application/json"})
	}
	if !cl.token.IsZero() {
		tok := cl.token.Reveal()
		if !headerSafe(tok) {
			return response{}, &auth.MalformedTokenError{Reason: "contains characters not allowed in an HTTP header"}
		}
		header = append(header, [2]string{"Authorization", "Bearer " + tok})
	}
	limit := func(status int) int64 {
		if status >= 200 && status < 300 {
			return c.maxBody
		}
		return min(c.maxBody, maxErrorBody)
	}
	rep, err := c.exchange(ctx, cl.method, c.base+cl.path, header, cl.body, limit)
	if err != nil {
		return response{}, transportError(caller, ctx, cl, err)
	}
	ok := rep.status >= 200 && rep.status < 300
	data := rep.body
	if rep.tooLarge {
		if ok {
			return response{}, &TooLargeError{Path: cl.path, Limit: c.maxBody}
		}
		// an error envelope is small; a huge one is noise
	}
	if !ok {
		return response{}, parseError(rep.status, rep.header, data, cl.secrets)
	}
	return response{status: rep.status, body: data}, nil
}

// reply is what one exchange brought back: the status, the headers, and the
// body up to the limit for that status (tooLarge when there was more).
type reply struct {
	status   int
	header   func(name string) string
	body     []byte
	tooLarge bool
}

// transportError wraps a failure of the exchange itself. It is retryable
// unless the caller's context ended.
func transportError(caller, ctx context.Context, cl call, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	return &TransportError{Method: cl.method, Path: cl.path, Err: err, ctxDone: caller.Err() != nil}
}

// headerSafe reports whether a token can go into a header value unchanged.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// parseError turns a non-2xx response into *Error.
func parseError(status int, header func(string) string, body []byte, secrets []auth.Secret) *Error {
	e := &Error{Status: status, RetryAfter: parseRetryAfter(header("Retry-After"))}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil && m != nil {
		str := func(k string) string {
			var s string
			_ = json.Unmarshal(m[k], &s)
			return s
		}
		raw := bytes.TrimSpace(m["error"])
		switch {
		case len(raw) > 0 && raw[0] == '{': // SQL envelope
			var eb struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Details any    `json:"details"`
			}
			_ = json.Unmarshal(raw, &eb)
			e.Code, e.Message = eb.Code, eb.Message
			if s, ok := eb.Details.(string); ok {
				e.Details = s
			} else if eb.Details != nil {
				d, _ := json.Marshal(eb.Details)
				e.Details = string(d)
			}
		case len(raw) > 0 && raw[0] == '"':
			if code := str("code"); code != "" { // topic envelope
				e.Code, e.Message = code, str("error")
			} else { // auth and middleware envelopes
				e.Code, e.Message = str("error"), str("message")
			}
		default:
			e.Code, e.Message = str("code"), str("message")
		}
		if e.RetryAfter == 0 {
			var secs float64
			if json.Unmarshal(m["retry_after_seconds"], &secs) == nil && secs > 0 && secs < 1e6 {
				e.RetryAfter = time.Duration(secs * float64(time.Second))
			}
		}
	} else {
		e.Message = textMessage(header("Content-Type"), body)
	}
	e.Code = clip(scrubText(e.Code, secrets), maxMessage)
	e.Message = clip(scrubText(e.Message, secrets), 4*maxMessage)
	e.Details = clip(scrubText(e.Details, secrets), 4*maxMessage)
	return e
}

// textMessage keeps the first line of a plain-text body; HTML error pages
// from proxies and other media types are dropped.
func textMessage(contentType string, body []byte) string {
	mt := mediaType(contentType)
	if mt != "text/plain" && !(mt == "" && !looksLikeHTML(body)) {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	return clip(strings.TrimSpace(line), maxMessage)
}

func looksLikeHTML(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '<'
}

// clip shortens s to at most n bytes on a rune boundary and makes it valid
// UTF-8 without control characters.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func scrubText(s string, secrets []auth.Secret) string {
	for _, sec := range secrets {
		// Very short secrets are skipped: replacing every "a" of a server
		// message because a password is "a" would only garble it.
		if v := sec.Reveal(); len(v) >= 4 && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, auth.Redacted)
		}
	}
	return s
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 || secs > 1e6 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := parseHTTPDate(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// mediaType is the type/subtype of a Content-Type value, lower case, without
// parameters ("" when there is none).
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// httpDateLayouts are the three date forms HTTP/1.1 allows (RFC 9110
// §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms.
var httpDateLayouts = [...]string{
	"Mon, 02 Jan 2006 15:04:05 GMT",
	"Monday, 02-Jan-06 15:04:05 GMT",
	"Mon Jan _2 15:04:05 2006",
}

// parseHTTPDate reads an HTTP date, as net/http's ParseTime does, without
// linking net/http into the browser build.
func parseHTTPDate(v string) (t time.Time, err error) {
	for _, layout := range httpDateLayouts {
		if t, err = time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return t, err
}
