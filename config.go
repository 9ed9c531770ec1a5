package kalam

import (
	"errors"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
)

// DefaultBufferBytes is Config.BufferBytes when it is zero: 16 MiB per
// subscription, the same natively and in the browser. That holds a whole
// 50,000-row burst of typical rows (a few hundred bytes each, bookkeeping
// included) even when the consumer reads nothing meanwhile; memory is used
// only while a backlog exists. See RATIONALE.md.
const DefaultBufferBytes = 16 << 20

// DefaultEventBuffer was Config.EventBuffer's default when buffers were
// bounded in events.
//
// Deprecated: buffers are bounded in bytes (Config.BufferBytes,
// DefaultBufferBytes), and a zero EventBuffer now means no cap on the
// number of events. Setting EventBuffer to DefaultEventBuffer restores the
// old cap (on top of the byte bound).
const DefaultEventBuffer = 256

// Config configures a Client. Only URL is required; every other field has a
// documented zero value. New copies the Config and never modifies the
// caller's value. The JSON tags name the plain fields for configuration
// files (durations in nanoseconds, as encoding/json writes them); fields of
// function or interface type are set in code. The browser build takes its
// own options, with durations in milliseconds (bindings/js).
type Config struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:8080". The
	// WebSocket URL is derived from it (ws:// or wss:// + /v1/ws). It must
	// not carry a user name or password.
	URL string `json:"url"`

	// Auth resolves credentials: on start, before expiry, after the server
	// refuses a token and, for dynamic providers, on every reconnect. Nil
	// means credentials arrive only through UpdateAuth.
	Auth auth.Provider `json:"-"`

	// Namespace is the starting namespace: the namespace_id of HTTP queries
	// and the schema of unqualified tables in live SQL. Live subscriptions
	// need one. Empty means none yet (see SetNamespace).
	Namespace string `json:"namespace,omitempty"`

	// EagerConnect opens the socket as soon as credentials arrive. By
	// default the socket opens on Connect or on the first live query, and
	// HTTP-only workers never open it.
	EagerConnect bool `json:"eagerConnect,omitempty"`

	// RefreshMargin is how long before expiry a token is refreshed. Zero
	// means a tenth of its lifetime, at most one minute.
	RefreshMargin time.Duration `json:"refreshMargin,omitempty"`
	// BackoffMin and BackoffMax bound the jittered redial delay: attempt n
	// waits a random time in [BackoffMin, min(BackoffMax, BackoffMin·2^(n+1))).
	// Zero means 500 ms and 30 s.
	BackoffMin time.Duration `json:"backoffMin,omitempty"`
	BackoffMax time.Duration `json:"backoffMax,omitempty"`
	// PingInterval is the keepalive period (KalamDB drops sockets silent for
	// 10 s). Zero means 5 s.
	PingInterval time.Duration `json:"pingInterval,omitempty"`
	// PongTimeout is how long the link may stay silent after a ping before it
	// is declared dead and redialed. Zero means 5 s.
	PongTimeout time.Duration `json:"pongTimeout,omitempty"`
	// ConnectTimeout bounds dialing plus authentication. Zero means 10 s.
	ConnectTimeout time.Duration `json:"connectTimeout,omitempty"`
	// GiveUpAttempts and GiveUpAfter are the give-up policy for a server
	// that stays unreachable: once that many connection (or credential)
	// attempts in a row have failed, or that long has passed since the
	// first of them began, the client stops retrying and the waiting calls
	// — Live's events, LiveRows, Connect, a Query waiting for credentials —
	// fail with a *GiveUpError (errors.Is ErrGaveUp) that says what was
	// tried. New work starts trying again. Zero, the default, means keep
	// trying for ever.
	GiveUpAttempts int           `json:"giveUpAttempts,omitempty"`
	GiveUpAfter    time.Duration `json:"giveUpAfter,omitempty"`
	// RequestTimeout bounds one HTTP request when the caller's context has no
	// deadline. Zero means 30 s.
	RequestTimeout time.Duration `json:"requestTimeout,omitempty"`

	// BufferBytes bounds each subscription's buffer for a slow consumer, in
	// bytes: the rows' JSON plus a fixed allowance per event and row for
	// what holding them costs. The socket is read as fast as the network
	// delivers whatever the consumer does; only when the buffer is full
	// does the subscription pause, and it resumes from the last buffered
	// row once the consumer has emptied three quarters of it, so nothing is
	// lost and memory stays bounded. A single event larger than the bound
	// (a huge snapshot batch) is still taken when the buffer is empty.
	// Zero means DefaultBufferBytes.
	BufferBytes int `json:"bufferBytes,omitempty"`
	// EventBuffer, when positive, also caps the number of events each
	// subscription buffers. Zero means no cap on the count: BufferBytes
	// alone bounds the buffer. (Before buffers were bounded in bytes, zero
	// meant 256 events.)
	EventBuffer int `json:"eventBuffer,omitempty"`

	// DisableCompression asks the server not to gzip frames
	// (?compress=false). Useful for reading traffic; costs bandwidth.
	DisableCompression bool `json:"disableCompression,omitempty"`

	// Seed seeds the backoff jitter. Zero means a random seed.
	Seed uint64 `json:"seed,omitempty"`

	// AllowInsecureHTTP lets URL be plain http:// to a host that is not
	// loopback. Without it New refuses such a URL with a ConfigError:
	// passwords, tokens and rows would cross the network in clear text.
	// Loopback means a loopback IP literal (127.0.0.0/8, ::1) or the name
	// "localhost"; any other name, even one that starts with "127.", is
	// remote. With it New still logs a warning when credentials are set.
	AllowInsecureHTTP bool `json:"allowInsecureHTTP,omitempty"`

	// HTTPClient carries HTTP requests and the WebSocket dial (natively a
	// net/http *http.Client; see [HTTPClient]). Nil means a client with the
	// default transport (TLS verification on). The browser build uses the
	// browser's fetch and WebSocket and has nothing to set here.
	HTTPClient *HTTPClient `json:"-"`

	// Engine builds the lifecycle engine the client drives. Nil means the
	// native engine (fsm.New). The wazero host (bindings/wazero) supplies one
	// that runs the engine compiled to wasm.
	Engine func(fsm.Config) (fsm.Stepper, error) `json:"-"`

	// Logger receives debug and warning records. Nil means no logging.
	// Tokens and passwords are never logged.
	Logger *slog.Logger `json:"-"`

	// OnStateChange is called for every lifecycle transition, in order, from
	// a goroutine the client owns; it may call the client's methods.
	OnStateChange func(Transition) `json:"-"`
	// OnConnection is called when the socket opens or is lost, in order with
	// OnStateChange.
	OnConnection func(ConnectionEvent) `json:"-"`
	// OnError is called for problems not tied to one call: a malformed frame,
	// a failed credential refresh, a server error with no subscription.
	OnError func(err error, recoverable bool) `json:"-"`
}

func (c Config) withDefaults() Config {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.BufferBytes == 0 {
		c.BufferBytes = DefaultBufferBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks the configuration and derives the endpoints.
func (c Config) validate() (base, ws *url.URL, err error) {
	if strings.TrimSpace(c.URL) == "" {
		return nil, nil, &ConfigError{Field: "URL", Reason: "is required"}
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, nil, &ConfigError{Field: "URL", Reason: "is not a URL"}
	}
	if u.User != nil {
		return nil, nil, &ConfigError{Field: "URL", Reason: "must not carry credentials; use Config.Auth"}
	}
	switch u.Scheme {
	case "http", "https":
	default:
		return nil, nil, &ConfigError{Field: "URL", Reason: "scheme must be http or https"}
	}
	if u.Host == "" {
		return nil, nil, &ConfigError{Field: "URL", Reason: "has no host"}
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) && !c.AllowInsecureHTTP {
		return nil, nil, &ConfigError{Field: "URL", Reason: "is plain http:// to a host that is not loopback; use https:// or set Config.AllowInsecureHTTP"}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	w := *u
	w.Scheme = "ws"
	if u.Scheme == "https" {
		w.Scheme = "wss"
	}
	w.Path = u.Path + "/v1/ws"
	if c.DisableCompression {
		w.RawQuery = "compress=false"
	}
	if c.Namespace != "" && !validNamespace(c.Namespace) {
		return nil, nil, &ConfigError{Field: "Namespace", Reason: "is not an identifier"}
	}
	for name, d := range map[string]time.Duration{"GiveUpAfter": c.GiveUpAfter, "RefreshMargin": c.RefreshMargin, "BackoffMin": c.BackoffMin, "BackoffMax": c.BackoffMax, "PingInterval": c.PingInterval, "PongTimeout": c.PongTimeout, "ConnectTimeout": c.ConnectTimeout, "RequestTimeout": c.RequestTimeout} {
		if d < 0 {
			return nil, nil, &ConfigError{Field: name, Reason: "must not be negative"}
		}
	}
	if c.GiveUpAttempts < 0 {
		return nil, nil, &ConfigError{Field: "GiveUpAttempts", Reason: "must not be negative"}
	}
	if c.EventBuffer < 0 {
		return nil, nil, &ConfigError{Field: "EventBuffer", Reason: "must not be negative"}
	}
	if c.BufferBytes < 0 {
		return nil, nil, &ConfigError{Field: "BufferBytes", Reason: "must not be negative"}
	}
	return u, &w, nil
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "kalam: Config." + e.Field + " " + e.Reason }

// Is makes every ConfigError match ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// ErrInvalidConfig matches every *ConfigError.
var ErrInvalidConfig = errors.New("kalam: invalid config")

func validNamespace(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// isLoopback reports whether host names this machine: a loopback IP
// literal or "localhost". A name such as "127.evil.example" is remote.
func isLoopback(host string) bool {
	h := strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	// net/netip, not net: net would link its resolver into the browser
	// build. A zone ("::1%lo0") is refused, as net.ParseIP refuses it.
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Zone() == "" && ip.IsLoopback()
}
