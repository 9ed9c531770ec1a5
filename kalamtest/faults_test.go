package kalamtest

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamgo/kalam/transport/wire"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// expectWSAuthError dials, authenticates with token and expects the
// auth_error + 1008 pair.
func expectWSAuthError(t *testing.T, srv *Server, token string) {
	t.Helper()
	w := dialWS(t, srv, dialOpts{})
	w.send(authMsg(token))
	wantJSON(t, w.nextFrame().payload, `{"type":"auth_error","message":"Invalid credentials"}`)
	if code, reason := w.expectClose(false); code != websocket.StatusPolicyViolation || reason != "Authentication failed" {
		t.Fatalf("close %d %q", code, reason)
	}
}

func expectWSAuthOK(t *testing.T, srv *Server, token string) *wsClient {
	t.Helper()
	w := dialWS(t, srv, dialOpts{})
	w.send(authMsg(token))
	w.nextType("auth_success")
	return w
}

func TestTokenExpiryWithClock(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	srv := startServer(t, func(c *Config) {
		c.Now = clock.Now
		c.AccessTokenTTL = time.Minute
		c.Leeway = -1 // none
	})
	cl := newClient(t, srv)
	access, refresh := cl.login("alice", alicePW)
	checkClaims(t, access, "alice", "user", "access", time.Minute)
	checkClaims(t, refresh, "alice", "user", "refresh", 7*time.Minute)

	clock.Advance(61 * time.Second)
	if code := sqlError(t, cl.sql(access, "SELECT 1 AS one"), 401); code != wire.CodeTokenExpired {
		t.Fatalf("code %s", code)
	}
	expectWSAuthError(t, srv, access)
	// The refresh token lives on.
	if r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+refresh); r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	clock.Advance(7 * time.Minute)
	if r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+refresh); r.Status != 401 {
		t.Fatalf("expired refresh: %d", r.Status)
	}
}

func TestSetTokenTTL(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	srv.SetTokenTTL(90*time.Second, 0)
	access, refresh := cl.login("alice", alicePW)
	checkClaims(t, access, "alice", "user", "access", 90*time.Second)
	checkClaims(t, refresh, "alice", "user", "refresh", 630*time.Second)
	srv.SetTokenTTL(time.Minute, 2*time.Minute)
	access, refresh = cl.login("alice", alicePW)
	checkClaims(t, access, "alice", "user", "access", time.Minute)
	checkClaims(t, refresh, "alice", "user", "refresh", 2*time.Minute)
	srv.SetTokenTTL(0, 0)
	access, _ = cl.login("alice", alicePW)
	checkClaims(t, access, "alice", "user", "access", 24*time.Hour)
}

func TestExpireAllTokens(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, refresh := cl.login("alice", alicePW)
	open := expectWSAuthOK(t, srv, access)
	ia, _, err := srv.IssueTokens("bob")
	if err != nil {
		t.Fatal(err)
	}

	srv.ExpireAllTokens()
	for _, tok := range []string{access, ia} {
		if code := sqlError(t, cl.sql(tok, "SELECT 1 AS one"), 401); code != wire.CodeTokenExpired {
			t.Fatalf("code %s", code)
		}
	}
	expectWSAuthError(t, srv, access)
	if r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+refresh); r.Status != 401 {
		t.Fatalf("refresh after ExpireAllTokens: %d", r.Status)
	}
	if r := cl.request(http.MethodGet, "/v1/api/auth/me", "", "Authorization", "Bearer "+access); r.Status != 401 {
		t.Fatalf("me after ExpireAllTokens: %d", r.Status)
	}
	// An authenticated socket is never rechecked.
	open.subscribe("still", ordersStar, nil)
	open.nextType("subscription_ack")

	// New tokens work at once, even within the same second.
	access2, refresh2 := cl.login("alice", alicePW)
	if r := cl.sql(access2, "SELECT 1 AS one"); r.Status != 200 {
		t.Fatalf("new token: %d %s", r.Status, r.Body)
	}
	expectWSAuthOK(t, srv, access2)
	if r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+refresh2); r.Status != 200 {
		t.Fatalf("new refresh: %d", r.Status)
	}
	// Twice in a row still cuts the tokens minted in between.
	srv.ExpireAllTokens()
	if code := sqlError(t, cl.sql(access2, "SELECT 1 AS one"), 401); code != wire.CodeTokenExpired {
		t.Fatalf("second cut: %s", code)
	}
}

func TestExpireAccessTokens(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, refresh := cl.login("alice", alicePW)
	srv.ExpireAccessTokens()
	if code := sqlError(t, cl.sql(access, "SELECT 1 AS one"), 401); code != wire.CodeTokenExpired {
		t.Fatalf("code %s", code)
	}
	r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+refresh)
	if r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	if r := cl.sql(r.JSON(t)["access_token"].(string), "SELECT 1 AS one"); r.Status != 200 {
		t.Fatalf("refreshed token: %d", r.Status)
	}
}

func TestRevokeUser(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	aliceAccess, aliceRefresh := cl.login("alice", alicePW)
	bobAccess, _ := cl.login("bob", bobPW)
	if err := srv.RevokeUser("alice"); err != nil {
		t.Fatal(err)
	}
	if err := srv.RevokeUser("mallory"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if code := sqlError(t, cl.sql(aliceAccess, "SELECT 1 AS one"), 401); code != wire.CodeInvalidCredentials {
		t.Fatalf("code %s", code)
	}
	expectWSAuthError(t, srv, aliceAccess)
	if r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+aliceRefresh); r.Status != 401 {
		t.Fatalf("revoked refresh: %d", r.Status)
	}
	if r := cl.sql(bobAccess, "SELECT 1 AS one"); r.Status != 200 {
		t.Fatalf("bob: %d", r.Status)
	}
	again, _ := cl.login("alice", alicePW)
	if r := cl.sql(again, "SELECT 1 AS one"); r.Status != 200 {
		t.Fatalf("alice after a new login: %d %s", r.Status, r.Body)
	}
}

func TestDropConnections(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("s", ordersStar, nil)
	w.nextType("subscription_ack")
	idle := dialWS(t, srv, dialOpts{}) // not authenticated yet

	srv.DropConnections()
	for _, c := range []*wsClient{w, idle} {
		if code, _ := c.expectClose(false); code != -1 {
			t.Fatalf("close code %d, want none (abnormal closure)", code)
		}
	}
	if n := srv.Connections(); n != 0 {
		t.Fatalf("%d connections after DropConnections", n)
	}
	if s := srv.Subscriptions(); len(s) != 0 {
		t.Fatalf("subscriptions after DropConnections: %+v", s)
	}
	cl = newClient(t, srv) // the old one's keep-alive connection was cut too
	loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	cl.healthy()
}

func TestCloseConnections(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	for _, tc := range []struct {
		code   int
		reason string
	}{{1001, "Server shutting down"}, {1008, "Authentication failed"}, {1011, "boom"}, {4000, "custom"}} {
		w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
		if err := srv.CloseConnections(tc.code, tc.reason); err != nil {
			t.Fatal(err)
		}
		code, reason := w.expectClose(false)
		if int(code) != tc.code || reason != tc.reason {
			t.Fatalf("close %d %q, want %d %q", code, reason, tc.code, tc.reason)
		}
		eventually(t, "the connection to go", func() bool { return srv.Connections() == 0 })
	}
	for _, bad := range []int{0, 999, 1005, 1006, 1015, 2999, 5000} {
		if err := srv.CloseConnections(bad, ""); err == nil {
			t.Fatalf("code %d accepted", bad)
		}
	}
}

func TestPauseAccepting(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	if err := srv.PauseAccepting(); err != nil {
		t.Fatal(err)
	}
	if err := srv.PauseAccepting(); err != nil {
		t.Fatalf("second pause: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	_, _, err := websocket.Dial(ctx, srv.WSURL(), nil)
	cancel()
	if err == nil {
		t.Fatal("dial succeeded while paused")
	}
	// Open connections keep working.
	w.subscribe("s", ordersStar, nil)
	w.nextType("subscription_ack")

	if err := srv.ResumeAccepting(); err != nil {
		t.Fatal(err)
	}
	if err := srv.ResumeAccepting(); err != nil {
		t.Fatalf("second resume: %v", err)
	}
	loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	cl.healthy()
}

func TestRestart(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	insertOrders(t, srv, 1, 3)
	access, _ := cl.login("alice", alicePW)
	w := expectWSAuthOK(t, srv, access)
	w.subscribe("s", ordersStar, map[string]any{})
	w.nextType("subscription_ack")
	w.nextType("initial_data_batch")
	url := srv.URL

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if code, _ := w.expectClose(false); code != -1 {
		t.Fatalf("close %d, want a dropped socket", code)
	}
	if srv.URL != url || srv.Connections() != 0 || len(srv.Subscriptions()) != 0 {
		t.Fatalf("after restart: url %s connections %d", srv.URL, srv.Connections())
	}
	// Same address, same data, same tokens.
	cl = newClient(t, srv)
	r := cl.sql(access, "SELECT COUNT(*) AS n FROM app.orders")
	if r.Status != 200 {
		t.Fatalf("old token after restart: %d %s", r.Status, r.Body)
	}
	wantJSON(t, mustJSON(t, r.JSON(t)["results"].([]any)[0].(map[string]any)["rows"]), `[["3"]]`)
	w = expectWSAuthOK(t, srv, access)
	w.subscribe("s", ordersStar, map[string]any{})
	w.nextType("subscription_ack")
	if n := len(rows(t, w.nextType("initial_data_batch"), "rows")); n != 3 {
		t.Fatalf("%d rows after restart", n)
	}

	// Restart while paused stays paused.
	if err := srv.PauseAccepting(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, _, err := websocket.Dial(ctx, srv.WSURL(), nil); err == nil {
		t.Fatal("restart resumed a paused server")
	}
	if err := srv.ResumeAccepting(); err != nil {
		t.Fatal(err)
	}
	cl.healthy()
}

func TestClosedServer(t *testing.T) {
	srv := startServer(t, nil)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := srv.Shutdown(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Shutdown after Close: %v", err)
	}
	for name, err := range map[string]error{
		"Restart": srv.Restart(), "PauseAccepting": srv.PauseAccepting(), "ResumeAccepting": srv.ResumeAccepting(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("%s on a closed server: %v", name, err)
		}
	}
}

func TestShutdownDeadline(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	_ = w // never reads: the close handshake cannot finish
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	if n := srv.Connections(); n != 0 {
		t.Fatalf("%d connections left after a forced shutdown", n)
	}
}

// blockWrites makes every WebSocket write wait until the returned release
// is called, so a connection's queue can be filled deterministically.
func blockWrites(srv *Server) (release func()) {
	gate := make(chan struct{})
	hook := func() { <-gate }
	srv.hooks.beforeWrite.Store(&hook)
	var once sync.Once
	return func() {
		once.Do(func() {
			srv.hooks.beforeWrite.Store(nil)
			close(gate)
		})
	}
}

func TestOverflowClose(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.OutgoingQueue = 3; c.Overflow = OverflowClose })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("s", ordersStar, nil)
	w.nextType("subscription_ack")
	release := blockWrites(srv)
	defer release()
	for i := range 10 {
		insertOrders(t, srv, i+1, 1)
	}
	eventually(t, "an overflow close", func() bool { return srv.Stats().OverflowCloses == 1 })
	release()
	code, reason := w.expectClose(true)
	if code != 1013 || reason != "Outgoing queue overflow" {
		t.Fatalf("close %d %q", code, reason)
	}
	// Writers were never blocked: all 10 inserts returned above.
	cl.healthy()
}

func TestOverflowDrop(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.OutgoingQueue = 3; c.Overflow = OverflowDrop })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("s", ordersStar, nil)
	w.nextType("subscription_ack")
	release := blockWrites(srv)
	defer release()
	for i := range 10 {
		insertOrders(t, srv, i+1, 1)
	}
	// The queue keeps 3; the other 7 are dropped without blocking anyone.
	eventually(t, "drops", func() bool { return srv.Stats().NotificationsDropped == 7 })
	release()
	var kept []string
	for range 3 {
		kept = append(kept, ids(rows(t, w.nextType("change"), "rows"))...)
	}
	if !slices.Equal(kept, []string{"1", "2", "3"}) {
		t.Fatalf("kept %v", kept)
	}
	eventually(t, "the queue to drain", func() bool { return queuedNotifications(srv) == 0 })
	// The connection lives on.
	insertOrders(t, srv, 100, 1)
	if r := rows(t, w.nextType("change"), "rows"); r[0]["id"] != "100" {
		t.Fatalf("after the drops got %v", r)
	}
	eventually(t, "4 sent, 7 dropped", func() bool {
		st := srv.Stats()
		return st.NotificationsSent == 4 && st.NotificationsDropped == 7
	})
}

// queuedNotifications counts the notifications waiting in every outbox.
func queuedNotifications(srv *Server) int {
	srv.mu.Lock()
	conns := srv.wsListLocked()
	srv.mu.Unlock()
	n := 0
	for _, c := range conns {
		c.out.mu.Lock()
		n += c.out.notifs
		c.out.mu.Unlock()
	}
	return n
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"root password with setup": {RequireSetup: true, RootPassword: "x"},
		"bad overflow":             {Overflow: "block"},
		"bad role":                 {Users: []User{{Name: "a", Password: "p", Role: "admin"}}},
		"empty user":               {Users: []User{{Password: "p"}}},
		"negative ttl":             {AccessTokenTTL: -time.Second},
	} {
		if _, err := Start(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var ce *ConfigError
	if _, err := Start(Config{Overflow: "x"}); !errors.As(err, &ce) || ce.Field != "Overflow" {
		t.Fatalf("ConfigError: %v", err)
	}
	if _, err := Start(Config{Addr: "256.0.0.1:0"}); err == nil {
		t.Fatal("bad address accepted")
	}
}

func TestStatsAndObservability(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	expectWSAuthError(t, srv, "nope")
	w.subscribe("s", ordersStar, nil)
	w.nextType("subscription_ack")
	insertOrders(t, srv, 1, 1)
	w.nextType("change")
	eventually(t, "the sent counter", func() bool { return srv.Stats().NotificationsSent == 1 })
	st := srv.Stats()
	if st.WSAccepted != 2 || st.AuthOK != 1 || st.AuthFailed != 1 || st.MessagesIn != 3 || st.NotificationsSent != 1 || st.MessagesOut < 3 {
		t.Fatalf("stats %+v", st)
	}
	// The refused socket is counted until the server finishes closing it.
	eventually(t, "the refused socket to go", func() bool { return srv.Connections() == 1 })
	if _, err := srv.Exec(context.Background(), "mallory", "SELECT 1"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("Exec as unknown user: %v", err)
	}
	var se *SQLError
	if _, err := srv.Exec(context.Background(), "alice", "SELECT * FROM app.nope"); !errors.As(err, &se) || se.Code != wire.CodeSQLExecutionError {
		t.Fatalf("Exec error: %v", err)
	}
	if _, _, err := srv.IssueTokens("mallory"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("IssueTokens: %v", err)
	}
	if err := srv.CreateUser("erin", "erin-Secret-1!", "wizard"); err == nil {
		t.Fatal("bad role accepted")
	}
	if err := srv.CreateUser("erin", "erin-Secret-1!", ""); err != nil {
		t.Fatal(err)
	}
	cl.login("erin", "erin-Secret-1!")
}
