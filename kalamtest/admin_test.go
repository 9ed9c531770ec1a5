package kalamtest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamgo/kalam/transport/wire"
)

func TestAdminEndpoint(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	post := func(path, body string) response {
		t.Helper()
		return cl.request(http.MethodPost, "/_kalamtest/"+path, body, "Content-Type", "application/json",
			"Authorization", "Bearer "+srv.AdminToken())
	}

	// Loopback only.
	if r := cl.request(http.MethodGet, "/_kalamtest/stats", "", "X-Forwarded-For", "203.0.113.1"); r.Status != 403 {
		t.Fatalf("remote admin: %d", r.Status)
	}

	t.Run("token-ttl", func(t *testing.T) {
		if r := post("faults/token-ttl", `{"access":"2m","refresh":"3m"}`); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		access, refresh := cl.login("alice", alicePW)
		checkClaims(t, access, "alice", "user", "access", 2*time.Minute)
		checkClaims(t, refresh, "alice", "user", "refresh", 3*time.Minute)
		if r := post("faults/token-ttl", `{"access":"soon"}`); r.Status != 400 {
			t.Fatalf("bad duration: %d", r.Status)
		}
		post("faults/token-ttl", `{}`)
	})
	t.Run("expire-tokens", func(t *testing.T) {
		access, refresh := cl.login("alice", alicePW)
		post("faults/expire-access-tokens", "")
		if code := sqlError(t, cl.sql(access, "SELECT 1 AS one"), 401); code != wire.CodeTokenExpired {
			t.Fatal(code)
		}
		if r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+refresh); r.Status != 200 {
			t.Fatalf("refresh after expire-access-tokens: %d", r.Status)
		}
		if r := post("faults/expire-tokens", ""); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+refresh); r.Status != 401 {
			t.Fatalf("refresh after expire-tokens: %d", r.Status)
		}
	})
	t.Run("revoke-user", func(t *testing.T) {
		access, _ := cl.login("bob", bobPW)
		if r := post("faults/revoke-user", `{"user":"bob"}`); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if code := sqlError(t, cl.sql(access, "SELECT 1 AS one"), 401); code != wire.CodeInvalidCredentials {
			t.Fatal(code)
		}
		if r := post("faults/revoke-user", `{"user":"mallory"}`); r.Status != 404 {
			t.Fatalf("unknown user: %d", r.Status)
		}
		if r := post("faults/revoke-user", `{"name":"bob"}`); r.Status != 400 {
			t.Fatalf("unknown field: %d", r.Status)
		}
	})
	t.Run("users", func(t *testing.T) {
		if r := post("users", `{"name":"gina","password":"gina-Secret-1!","role":"service"}`); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		cl.login("gina", "gina-Secret-1!")
		if r := post("users", `{"name":"hank","password":"x","role":"boss"}`); r.Status != 400 {
			t.Fatalf("bad role: %d", r.Status)
		}
	})
	t.Run("observability", func(t *testing.T) {
		w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
		w.subscribe("obs", ordersStar, nil)
		w.nextType("subscription_ack")
		var subs []SubscriptionInfo
		if err := json.Unmarshal(cl.request(http.MethodGet, "/_kalamtest/subscriptions", "", AdminTokenHeader, srv.AdminToken()).Body, &subs); err != nil || len(subs) != 1 || subs[0].ID != "obs" {
			t.Fatalf("subscriptions %+v %v", subs, err)
		}
		var conns map[string]int
		if err := json.Unmarshal(cl.request(http.MethodGet, "/_kalamtest/connections", "", AdminTokenHeader, srv.AdminToken()).Body, &conns); err != nil || conns["connections"] != 1 {
			t.Fatalf("connections %v %v", conns, err)
		}
		if m := cl.request(http.MethodGet, "/_kalamtest/stats", "", AdminTokenHeader, srv.AdminToken()).JSON(t); keys(m) !=
			"auth_failed,auth_ok,messages_in,messages_out,notifications_dropped,notifications_sent,overflow_closes,ws_accepted" {
			t.Fatalf("stats keys %s", keys(m))
		}
		if r := post("faults/close-connections", `{"code":4001,"reason":"bye"}`); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if code, reason := w.expectClose(false); code != 4001 || reason != "bye" {
			t.Fatalf("close %d %q", code, reason)
		}
		if r := post("faults/close-connections", `{"code":1006}`); r.Status != 400 {
			t.Fatalf("bad code: %d", r.Status)
		}
	})
	t.Run("drop-connections", func(t *testing.T) {
		w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
		if r := post("faults/drop-connections", ""); r.Status != http.StatusAccepted {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if code, _ := w.expectClose(false); code != -1 {
			t.Fatalf("close %d", code)
		}
		cl = newClient(t, srv)
	})
	t.Run("pause-accepting", func(t *testing.T) {
		if r := post("faults/pause-accepting", `{}`); r.Status != 400 {
			t.Fatalf("pause without a duration: %d", r.Status)
		}
		if r := post("faults/pause-accepting", `{"duration":"200ms"}`); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if _, _, err := websocket.Dial(ctx, srv.WSURL(), nil); err == nil {
			t.Fatal("dial succeeded during the pause")
		}
		eventually(t, "accepting again", func() bool {
			c, _, err := websocket.Dial(ctx, srv.WSURL(), nil)
			if err != nil {
				return false
			}
			c.CloseNow()
			return true
		})
		cl = newClient(t, srv)
	})
	t.Run("restart", func(t *testing.T) {
		w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
		if r := post("faults/restart", ""); r.Status != http.StatusAccepted {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if code, _ := w.expectClose(false); code != -1 {
			t.Fatalf("close %d", code)
		}
		eventually(t, "the restarted server", func() bool {
			res, err := http.Get(srv.URL + "/health")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		})
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
}

func TestAdminDisabled(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.DisableAdmin = true })
	cl := newClient(t, srv)
	if r := cl.request(http.MethodPost, "/_kalamtest/faults/expire-tokens", ""); r.Status != 404 {
		t.Fatalf("disabled admin answered %d", r.Status)
	}
}
