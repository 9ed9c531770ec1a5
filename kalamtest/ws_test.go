package kalamtest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

var jsonProtocol = map[string]string{"serialization": "json", "compression": "gzip"}

func authMsg(token string) map[string]any {
	return map[string]any{"type": "authenticate", "method": "jwt", "token": token, "protocol": jsonProtocol}
}

func TestWSAuthMessagePath(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, _ := cl.login("alice", alicePW)
	w := dialWS(t, srv, dialOpts{})
	w.send(map[string]any{"type": "authenticate", "method": "jwt", "token": access,
		"protocol": map[string]string{"serialization": "json", "compression": "none"}, "extra": "ignored"})
	f := w.nextFrame()
	if f.binary {
		t.Fatal("auth_success must be a text frame")
	}
	wantJSON(t, f.payload, `{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"none"}}`)

	// A second authenticate is not checked: the original identity comes back.
	w.send(authMsg("garbage"))
	wantJSON(t, w.nextFrame().payload, `{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"none"}}`)
	if st := srv.Stats(); st.AuthOK != 1 || st.AuthFailed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWSAuthHeaderPath(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, _ := cl.login("bob", bobPW)
	w := dialWS(t, srv, dialOpts{header: http.Header{"Authorization": {"Bearer " + access}}})
	f := w.nextFrame()
	if f.binary {
		t.Fatal("auth_success must be a text frame")
	}
	wantJSON(t, f.payload, `{"type":"auth_success","user":"bob","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)

	w = dialWS(t, srv, dialOpts{query: "?Compression=none", header: http.Header{"Authorization": {"Bearer " + access}}})
	wantJSON(t, w.nextFrame().payload, `{"type":"auth_success","user":"bob","role":"user","protocol":{"serialization":"json","compression":"none"}}`)
}

func TestWSAuthFailures(t *testing.T) {
	now := time.Now()
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, refresh := cl.login("alice", alicePW)
	sign := func(key string, mod func(jwt.MapClaims)) string {
		c := jwt.MapClaims{"sub": "alice", "iss": "kalamdb", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"email": nil, "role": "user", "token_type": "access"}
		mod(c)
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tokens := map[string]string{
		"expired":      sign(testSecret, func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Minute).Unix() }),
		"forged":       sign("wrong-secret", func(jwt.MapClaims) {}),
		"refresh":      refresh,
		"garbage":      "x",
		"empty":        "",
		"unknown user": sign(testSecret, func(c jwt.MapClaims) { c["sub"] = "mallory" }),
	}
	for name, tok := range tokens {
		for _, path := range []string{"message", "header"} {
			if path == "header" && tok == "" {
				continue // "Bearer " alone is not a header-path attempt
			}
			t.Run(name+"/"+path, func(t *testing.T) {
				var w *wsClient
				if path == "header" {
					w = dialWS(t, srv, dialOpts{header: http.Header{"Authorization": {"Bearer " + tok}}})
				} else {
					w = dialWS(t, srv, dialOpts{})
					w.send(authMsg(tok))
				}
				f := w.nextFrame()
				if f.binary {
					t.Fatal("auth_error must be a text frame")
				}
				wantJSON(t, f.payload, `{"type":"auth_error","message":"Invalid credentials"}`)
				code, reason := w.expectClose(false)
				if code != websocket.StatusPolicyViolation || reason != "Authentication failed" {
					t.Fatalf("close %d %q", code, reason)
				}
			})
		}
	}
	// The server stays up and a good token still works.
	w := dialWS(t, srv, dialOpts{})
	w.send(authMsg(access))
	w.nextType("auth_success")
	cl.healthy()
}

func TestWSAuthTimeout(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.AuthTimeout = 100 * time.Millisecond })
	w := dialWS(t, srv, dialOpts{})
	f := w.nextFrame()
	wantJSON(t, f.payload, `{"type":"auth_error","message":"Authentication timeout - no auth message received within 3 seconds"}`)
	code, reason := w.expectClose(false)
	if code != websocket.StatusPolicyViolation || reason != "Authentication timeout" {
		t.Fatalf("close %d %q", code, reason)
	}
	// ping, subscribe and next_batch before auth do not start authentication.
	w = dialWS(t, srv, dialOpts{})
	w.send(map[string]any{"type": "ping"})
	w.send(map[string]any{"type": "next_batch", "subscription_id": "x"})
	w.send(map[string]any{"type": "unsubscribe", "subscription_id": "x"})
	w.nextType("auth_error")
	if code, _ := w.expectClose(false); code != websocket.StatusPolicyViolation {
		t.Fatalf("close %d", code)
	}
}

func TestWSIdleTimeout(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.IdleTimeout = 150 * time.Millisecond })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("s", "SELECT * FROM app.orders", nil)
	w.nextType("subscription_ack")

	// Server → client traffic does not count: rows keep flowing, the
	// client stays silent, and the server still closes.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := srv.Exec(context.Background(), "alice", "INSERT INTO app.orders (id, status) VALUES ($1, 'open')", i); err != nil {
				return
			}
		}
	}()
	code, reason := w.expectClose(true)
	close(stop)
	<-done
	if code != websocket.StatusNormalClosure || reason != "Heartbeat timeout" {
		t.Fatalf("close %d %q", code, reason)
	}
	cl.healthy()
}

func TestWSKeepaliveFrames(t *testing.T) {
	// The idle timeout is generous against scheduling stalls on a loaded
	// machine; the link is kept busy for more than two of them.
	srv := startServer(t, func(c *Config) { c.IdleTimeout = time.Second })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	// A reader must run for Ping to get its Pong.
	ctx := w.c.CloseRead(context.Background())
	// Keep the link busy for three idle periods with WS Pings and
	// {"type":"ping"} messages; each Ping must be answered.
	end := time.Now().Add(2500 * time.Millisecond)
	for i := 0; time.Now().Before(end); i++ {
		if i%2 == 0 {
			pctx, cancel := context.WithTimeout(ctx, waitFor)
			err := w.c.Ping(pctx)
			cancel()
			if err != nil {
				t.Fatalf("ping %d: %v", i, err)
			}
		} else {
			if err := w.c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
				t.Fatalf("ping message %d: %v", i, err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if srv.Connections() != 1 {
		t.Fatalf("connections %d, want the kept-alive one", srv.Connections())
	}
}

func TestWSInvalidMessages(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, _ := cl.login("alice", alicePW)
	tests := []struct {
		name, frame string
		reason      string // prefix
		authFirst   bool
	}{
		{"malformed JSON", `{"type":`, "Invalid message: ", false},
		{"not JSON", `hello`, "Invalid message: ", false},
		{"unknown type", `{"type":"subscribe_all"}`, "Invalid message: unknown variant", true},
		{"no type", `{"id":1}`, "Invalid message: missing field `type`", true},
		{"authenticate without protocol", `{"type":"authenticate","method":"jwt","token":"` + access + `"}`, "Invalid message: authenticate: missing field `protocol`", false},
		{"unknown method", `{"type":"authenticate","method":"basic","token":"x","protocol":{"serialization":"json","compression":"gzip"}}`, "Invalid message: authenticate: unknown method", false},
		{"bad serialization", `{"type":"authenticate","method":"jwt","token":"x","protocol":{"serialization":"xml","compression":"gzip"}}`, "Invalid message: unknown variant `xml`", false},
		{"msgpack", `{"type":"authenticate","method":"jwt","token":"x","protocol":{"serialization":"msgpack","compression":"gzip"}}`, "Invalid message: serialization `msgpack` is not supported", false},
		{"subscribe without subscription", `{"type":"subscribe"}`, "Invalid message: subscribe: missing field `subscription`", true},
		{"seq as a string", `{"type":"next_batch","subscription_id":"a","last_seq_id":"12"}`, "Invalid message: invalid type: string", true},
		{"from as a string", `{"type":"subscribe","subscription":{"id":"a","sql":"SELECT * FROM app.orders","options":{"from":"12"}}}`, "Invalid message: invalid type: string", true},
		{"wrong field type", `{"type":"subscribe","subscription":{"id":"a","sql":"SELECT * FROM app.orders","options":{"batch_size":"2"}}}`, "Invalid message: ", true},
		{"negative batch_size", `{"type":"subscribe","subscription":{"id":"a","sql":"SELECT * FROM app.orders","options":{"batch_size":-1}}}`, "Invalid message: invalid value: integer `-1`", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := dialWS(t, srv, dialOpts{})
			if tt.authFirst {
				w.send(authMsg(access))
				w.nextType("auth_success")
			}
			w.sendText(tt.frame)
			code, reason := w.expectClose(false)
			if code != websocket.StatusInternalError || !strings.HasPrefix(reason, tt.reason) {
				t.Fatalf("close %d %q, want 1011 %q…", code, reason, tt.reason)
			}
			if strings.Contains(reason, access) {
				t.Fatal("close reason leaks the token")
			}
		})
	}
	cl.healthy()
}

func TestWSBinaryFrame(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	for _, authed := range []bool{false, true} {
		var w *wsClient
		if authed {
			w = loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
		} else {
			w = dialWS(t, srv, dialOpts{})
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		if err := w.c.Write(ctx, websocket.MessageBinary, []byte{0x82, 0xa4, 't', 'y', 'p', 'e'}); err != nil {
			t.Fatal(err)
		}
		cancel()
		wantJSON(t, w.nextFrame().payload, `{"type":"error","subscription_id":"protocol","code":"UNSUPPORTED_DATA","message":"Binary not supported"}`)
		// Still open and working.
		if !authed {
			access, _ := cl.login("alice", alicePW)
			w.send(authMsg(access))
			w.nextType("auth_success")
		}
		w.subscribe("after-binary", "SELECT * FROM app.orders", nil)
		w.nextType("subscription_ack")
	}
}

func TestWSOversizedFrame(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.MaxFrameBytes = 1024 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	ok := `{"type":"ping","pad":"` + strings.Repeat("x", 1024-len(`{"type":"ping","pad":""}`)) + `"}`
	w.sendText(ok) // exactly at the limit: accepted
	big := `{"type":"ping","pad":"` + strings.Repeat("x", 2000) + `"}`
	w.sendText(big)
	code, _ := w.expectClose(false)
	if code != websocket.StatusMessageTooBig && code != -1 {
		t.Fatalf("close %d, want a dropped connection", code)
	}
	eventually(t, "the connection to go", func() bool { return srv.Connections() == 0 })
	loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	cl.healthy()
}

func TestWSRateLimit(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.MaxMessagesPerSec = 5 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	// The bucket holds 5 (one went to authenticate); 20 pings in a burst
	// must overflow it. ping has no reply, so every reply is the error.
	for range 20 {
		w.sendText(`{"type":"ping"}`)
	}
	wantJSON(t, w.nextFrame().payload, `{"type":"error","subscription_id":"rate_limit","code":"RATE_LIMIT_EXCEEDED","message":"Too many messages"}`)
	// The connection stays open.
	eventually(t, "a token to refill", func() bool {
		w.subscribe("after-limit", "SELECT * FROM app.orders", nil)
		return w.next()["type"] == "subscription_ack"
	})
}

func TestWSUnlimitedRate(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.MaxMessagesPerSec = -1 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	for range 200 {
		w.sendText(`{"type":"ping"}`)
	}
	w.subscribe("x", "SELECT * FROM app.orders", nil)
	w.nextType("subscription_ack") // no rate_limit error came first
}

func TestWSNotAfterShutdownUpgrade(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.Shutdown(ctx) }()
	code, reason := w.expectClose(false)
	if code != websocket.StatusGoingAway || reason != "Server shutting down" {
		t.Fatalf("close %d %q", code, reason)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := srv.Close(); err != ErrClosed {
		t.Fatalf("Close after Shutdown: %v", err)
	}
}
