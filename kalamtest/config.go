package kalamtest

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"time"
)

// Config configures a Server. Every field is optional: the zero Config is an
// in-memory server on a free loopback port with KalamDB's default timeouts.
// Start copies the Config and fills in defaults; the caller's value is never
// modified. Durations marshal to JSON as integer nanoseconds.
type Config struct {
	// Addr is the TCP address to listen on. Empty means "127.0.0.1:0", a
	// free loopback port; Server.URL tells which one was chosen. The port
	// stays the same across Restart and PauseAccepting/ResumeAccepting.
	Addr string `json:"addr,omitempty"`

	// RootPassword is the password of the built-in user "root" (role
	// system). Empty means a random password, see Server.RootPassword.
	RootPassword string `json:"root_password,omitempty"`
	// RequireSetup leaves root without a password, so that
	// /v1/api/auth/status reports needs_setup and /v1/api/auth/setup can be
	// exercised. RootPassword must then be empty. False means root gets a
	// password at start.
	RequireSetup bool `json:"require_setup,omitempty"`

	// DataDir is the directory of the SQLite database file. Empty means an
	// in-memory database that vanishes with the Server (Restart keeps it).
	DataDir string `json:"data_dir,omitempty"`

	// JWTSecret is the HMAC key for HS256 tokens. Empty means 32 random
	// bytes, so tokens do not survive the process.
	JWTSecret string `json:"jwt_secret,omitempty"`
	// AccessTokenTTL is the access-token lifetime. Zero means 24 h. The
	// token's exp has one-second resolution.
	AccessTokenTTL time.Duration `json:"access_token_ttl,omitempty"`
	// RefreshTokenTTL is the refresh-token lifetime. Zero means seven times
	// the access lifetime, as in KalamDB.
	RefreshTokenTTL time.Duration `json:"refresh_token_ttl,omitempty"`
	// Leeway is how long after exp a token is still accepted. Zero means
	// 60 s (KalamDB's value); a negative value means no leeway at all,
	// which tests of expiry usually want.
	Leeway time.Duration `json:"leeway,omitempty"`

	// AuthTimeout is how long a WebSocket may stay unauthenticated. Zero
	// means 3 s. Like KalamDB, the check runs every HeartbeatInterval, so
	// the close comes between AuthTimeout and AuthTimeout+HeartbeatInterval.
	AuthTimeout time.Duration `json:"auth_timeout,omitempty"`
	// IdleTimeout closes a WebSocket (1000 "Heartbeat timeout") that sent no
	// frame, data or control, for this long. Server→client traffic does not
	// count. Zero means 10 s; negative disables the check.
	IdleTimeout time.Duration `json:"idle_timeout,omitempty"`
	// HeartbeatInterval is how often the auth and idle timeouts are
	// checked. Zero means 5 s; tests usually set a few milliseconds.
	HeartbeatInterval time.Duration `json:"heartbeat_interval,omitempty"`
	// WriteTimeout bounds each WebSocket frame write; a client that does
	// not read for this long is dropped. Zero means 10 s.
	WriteTimeout time.Duration `json:"write_timeout,omitempty"`

	// KalamDB's limits (PROTOCOL.md §4.3, §4.6, §4.9). Every one is on by
	// default with KalamDB's value, so a client test meets the losses a
	// real server inflicts; a negative value turns a limit off, for
	// benchmarks and for tests that need more room (say why next to it).
	// Every change a limit drops is counted per connection and per
	// subscription with its _seq: see Server.Drops.

	// MaxSubscriptionsPerUser caps the live subscriptions of one user over
	// all connections; one more is refused with SUBSCRIPTION_LIMIT_EXCEEDED
	// "Maximum subscriptions reached". Zero means 100: KalamDB's code
	// default (rate_limit.max_subscriptions_per_user) is 10, but its sample
	// server.toml, which deployments start from, sets 100. Negative means
	// no cap. Replacing a subscription by reusing its id keeps its slot.
	MaxSubscriptionsPerUser int `json:"max_subscriptions_per_user,omitempty"`
	// MaxSubscriptionsPerConnection caps the live subscriptions of one
	// connection; one more is refused with UNSUPPORTED "Invalid operation:
	// Maximum subscriptions (100) per connection exceeded". It is checked
	// last, after the table checks, as in KalamDB (§4.6), so with the
	// default per-user cap of 100 a single-user client meets the per-user
	// cap first. Zero means 100, KalamDB's hard-coded value; negative means
	// no cap.
	MaxSubscriptionsPerConnection int `json:"max_subscriptions_per_connection,omitempty"`
	// MaxMessagesPerSec is the per-connection rate of client text frames: a
	// token bucket holding this many tokens and refilled at this rate.
	// Every text frame takes a token, {"type":"ping"} included; binary
	// frames and WebSocket control frames take none. A frame that finds the
	// bucket empty is dropped unread and answered with
	// {"type":"error","subscription_id":"rate_limit","code":"RATE_LIMIT_EXCEEDED","message":"Too many messages"};
	// the connection stays open. Zero means 50, KalamDB's default
	// (rate_limit.max_messages_per_sec); negative means no limit.
	MaxMessagesPerSec int `json:"max_messages_per_sec,omitempty"`
	// MaxFrameBytes is the largest client message accepted; a larger one
	// drops the connection. Zero means 64 KiB.
	MaxFrameBytes int64 `json:"max_frame_bytes,omitempty"`

	// OutgoingQueue is how many change notifications may wait for one
	// connection's writer. Zero means 128, KalamDB's notification channel
	// capacity; negative means no bound (a client that does not read at
	// all is then dropped after WriteTimeout). Only change notifications
	// count and can be dropped: subscription_ack, initial_data_batch,
	// error and auth replies are always sent, as KalamDB writes them
	// straight to the socket (while they are pending kalamtest stops
	// reading the client's requests, which pushes back on the client).
	// The changes a loading subscription buffered go through this queue
	// when its load completes, and those that do not fit are dropped too.
	OutgoingQueue int `json:"outgoing_queue,omitempty"`
	// Overflow says what happens to a change notification that finds the
	// queue full. The zero value means OverflowDrop, KalamDB's behaviour:
	// the change is discarded and the client is not told; kalamtest counts
	// it (Stats.NotificationsDropped, Server.Drops) and logs the first drop
	// of each connection. OverflowClose instead closes the connection
	// (1013 "Outgoing queue overflow"), so a client resumes with
	// options.from; KalamDB never does that. Neither policy ever blocks a
	// writer of rows or another connection.
	Overflow OverflowPolicy `json:"overflow,omitempty"`
	// LoadingBuffer is how many changes a subscription keeps while its
	// initial load runs (changes newer than the snapshot, sent in _seq
	// order right after the last batch). Beyond it the oldest are dropped.
	// Zero means 1024, KalamDB's MAX_BUFFERED_NOTIFICATIONS_PER_SUBSCRIPTION;
	// negative means no bound.
	LoadingBuffer int `json:"loading_buffer,omitempty"`

	// Users are created at start, after root.
	Users []User `json:"users,omitempty"`

	// DisableAdmin turns off the loopback-only fault endpoint under
	// /_kalamtest/. False means it is served (`kalam serve` turns it off
	// unless --admin is given).
	DisableAdmin bool `json:"disable_admin,omitempty"`
	// AdminToken is the secret every request to /_kalamtest/ must carry,
	// as "Authorization: Bearer <token>" or "X-Kalamtest-Admin: <token>".
	// The endpoint also refuses requests with a foreign Origin, a Host that
	// is neither loopback nor the listen host, and POSTs whose Content-Type
	// is not application/json (see docs/SECURITY.md). Empty means a random
	// token, see Server.AdminToken.
	AdminToken string `json:"-"`

	// StatementTimeout cancels an SQL statement that runs longer (all SQL
	// shares one SQLite connection, so a runaway query would stall every
	// caller). Zero means 30 s; negative means no timeout.
	StatementTimeout time.Duration `json:"statement_timeout,omitempty"`
	// SQLMemoryLimit caps the memory SQLite may allocate, in bytes; a
	// statement that needs more fails with an out-of-memory error and the
	// server carries on. Zero means 256 MiB; negative means no limit.
	SQLMemoryLimit int64 `json:"sql_memory_limit,omitempty"`
	// MaxValueBytes is the largest string or blob one SQL statement may
	// build. Zero means 32 MiB; negative means SQLite's own limit (1 GB).
	MaxValueBytes int `json:"max_value_bytes,omitempty"`

	// CORSOrigins are the browser origins (scheme://host[:port]) allowed to
	// call the API. Empty means any origin, KalamDB's default; "*" too.
	// See cors.go.
	CORSOrigins []string `json:"cors_origins,omitempty"`

	// Logger receives the server's log records. Nil means they are
	// discarded. Tokens and passwords are never logged.
	Logger *slog.Logger `json:"-"`
	// Now is the clock for minting and validating JWTs. Nil means
	// time.Now. Row versions (_seq) always use the real clock.
	Now func() time.Time `json:"-"`
}

// User is a seed user of Config.Users.
type User struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	// Role is one of "user", "service", "dba" and "system". Empty means
	// "user".
	Role string `json:"role,omitempty"`
}

// OverflowPolicy says what a connection does when its outgoing queue of
// change notifications is full. See Config.Overflow.
type OverflowPolicy string

// Overflow policies.
const (
	// OverflowClose closes the connection with 1013 "Outgoing queue
	// overflow" and logs why. KalamDB has no such close.
	OverflowClose OverflowPolicy = "close"
	// OverflowDrop discards the notification silently, as KalamDB does.
	// It is the default.
	OverflowDrop OverflowPolicy = "drop"
)

// Defaults, as in KalamDB.
const (
	DefaultAddr              = "127.0.0.1:0"
	DefaultAccessTokenTTL    = 24 * time.Hour
	DefaultLeeway            = 60 * time.Second
	DefaultAuthTimeout       = 3 * time.Second
	DefaultIdleTimeout       = 10 * time.Second
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultMaxMessagesPerSec = 50
	DefaultMaxFrameBytes     = 64 << 10
	// DefaultOutgoingQueue is KalamDB's per-connection notification
	// channel capacity.
	DefaultOutgoingQueue = 128
	// KalamDBOutgoingQueue is the same value, kept for older callers.
	KalamDBOutgoingQueue = DefaultOutgoingQueue
	// DefaultMaxSubscriptionsPerUser is the per-user cap of KalamDB's
	// sample server.toml (its code default is 10).
	DefaultMaxSubscriptionsPerUser = 100
	// MaxSubscriptionsPerConnection is KalamDB's hard-coded per-connection
	// cap, the default of Config.MaxSubscriptionsPerConnection.
	MaxSubscriptionsPerConnection = 100
	// DefaultBatchSize is the initial-load batch size when options leave
	// batch_size out.
	DefaultBatchSize = 1000
	// MaxBufferedChanges is how many changes a loading subscription keeps
	// by default (Config.LoadingBuffer); beyond that the oldest are
	// dropped, as in KalamDB.
	MaxBufferedChanges = 1024
	// MaxDropSeqs is how many dropped _seq values Server.Drops keeps per
	// subscription (the first ones); counts, the smallest and the largest
	// are kept whatever the number.
	MaxDropSeqs = 4096
)

var validRoles = map[string]bool{"user": true, "service": true, "dba": true, "system": true}

// withDefaults returns a validated copy of c with every default filled in.
func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if err := checkCORSOrigins(c.CORSOrigins); err != nil {
		return c, err
	}
	if c.RequireSetup && c.RootPassword != "" {
		return c, &ConfigError{Field: "RootPassword", Reason: "must be empty when RequireSetup is set"}
	}
	if !c.RequireSetup && c.RootPassword == "" {
		c.RootPassword = randomString(18)
	}
	if c.JWTSecret == "" {
		c.JWTSecret = randomString(32)
	}
	if c.AccessTokenTTL < 0 {
		return c, &ConfigError{Field: "AccessTokenTTL", Reason: "negative"}
	}
	if c.RefreshTokenTTL < 0 {
		return c, &ConfigError{Field: "RefreshTokenTTL", Reason: "negative"}
	}
	c.AccessTokenTTL, c.RefreshTokenTTL = ttls(c.AccessTokenTTL, c.RefreshTokenTTL)
	switch {
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	case c.Leeway < 0:
		c.Leeway = 0
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = DefaultAuthTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	c.MaxMessagesPerSec = limitOrDefault(c.MaxMessagesPerSec, DefaultMaxMessagesPerSec)
	c.MaxSubscriptionsPerUser = limitOrDefault(c.MaxSubscriptionsPerUser, DefaultMaxSubscriptionsPerUser)
	c.MaxSubscriptionsPerConnection = limitOrDefault(c.MaxSubscriptionsPerConnection, MaxSubscriptionsPerConnection)
	c.LoadingBuffer = limitOrDefault(c.LoadingBuffer, MaxBufferedChanges)
	c.OutgoingQueue = limitOrDefault(c.OutgoingQueue, DefaultOutgoingQueue)
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	switch c.Overflow {
	case "":
		c.Overflow = OverflowDrop
	case OverflowClose, OverflowDrop:
	default:
		return c, &ConfigError{Field: "Overflow", Reason: "must be \"close\" or \"drop\""}
	}
	users := make([]User, len(c.Users))
	for i, u := range c.Users {
		if u.Role == "" {
			u.Role = "user"
		}
		if !validRoles[u.Role] {
			return c, &ConfigError{Field: fieldIndex("Users", i) + ".Role", Reason: "must be user, service, dba or system"}
		}
		if u.Name == "" {
			return c, &ConfigError{Field: fieldIndex("Users", i) + ".Name", Reason: "empty"}
		}
		users[i] = u
	}
	c.Users = users
	if err := c.securityDefaults(); err != nil {
		return c, err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// limitOrDefault maps a limit field: zero is def, negative is -1 (no
// limit), anything else stays.
func limitOrDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

// ttls applies the lifetime defaults: access 24 h, refresh 7 × access.
func ttls(access, refresh time.Duration) (time.Duration, time.Duration) {
	if access <= 0 {
		access = DefaultAccessTokenTTL
	}
	if refresh <= 0 {
		refresh = 7 * access
	}
	return access, refresh
}

// randomString returns n random bytes in unpadded base64url.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
