package kalamtest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log sink shared by the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNoSecretsInLogs drives every path that handles a password or a
// token, with the most verbose logging, and then looks for them.
func TestNoSecretsInLogs(t *testing.T) {
	var logs lockedBuffer
	srv := startServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	cl := newClient(t, srv)
	secrets := []string{alicePW, bobPW, rootPW, testSecret, "wrong-Password-9"}

	access, refresh := cl.login("alice", alicePW)
	cl.login("root", rootPW)
	cl.postJSON("/v1/api/auth/login", map[string]string{"user": "alice", "password": "wrong-Password-9"})
	r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+refresh)
	refreshed := r.JSON(t)
	cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+access)
	cl.request(http.MethodGet, "/v1/api/auth/me", "", "Authorization", "Bearer "+refresh)
	cl.sql(access, "SELECT 1 AS one")
	cl.sql(refresh, "SELECT 1 AS one")
	cl.sql(access+"x", "SELECT 1 AS one")
	cl.request(http.MethodPost, "/v1/api/sql", "{", "Authorization", "Bearer "+access)
	cl.sql(access, "CREATE USER frank WITH PASSWORD 'frank-Secret-1!' ROLE user")
	secrets = append(secrets, "frank-Secret-1!")
	_, err := srv.Exec(context.Background(), "root", "CREATE USER frank WITH PASSWORD 'frank-Secret-1!' ROLE user")
	if err != nil && strings.Contains(err.Error(), "frank-Secret-1!") {
		t.Fatalf("Exec error leaks a password: %v", err)
	}

	w := dialWS(t, srv, dialOpts{})
	w.send(authMsg(access))
	w.nextType("auth_success")
	w.sendText(`{"type":"authenticate","method":"jwt","token":"` + refresh + `"`) // malformed, with a token inside
	w.expectClose(false)
	expectWSAuthError(t, srv, refresh)
	expectWSAuthError(t, srv, access+"tampered")
	w = dialWS(t, srv, dialOpts{})
	w.sendText(`{"type":"authenticate","method":"jwt","token":"` + access + `"}`) // no protocol
	if _, reason := w.expectClose(false); strings.Contains(reason, access) {
		t.Fatal("close reason leaks a token")
	}
	srv.ExpireAllTokens()
	cl.sql(access, "SELECT 1 AS one")

	tokens := []string{access, refresh, refreshed["access_token"].(string), refreshed["refresh_token"].(string)}
	for _, tok := range tokens {
		secrets = append(secrets, tok)
		// A token's signature alone must not appear either.
		secrets = append(secrets, tok[strings.LastIndexByte(tok, '.')+1:])
	}
	out := logs.String()
	if !strings.Contains(out, "login failed") || !strings.Contains(out, "refused a bearer token") {
		t.Fatalf("expected log lines are missing; got:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("a secret (%d bytes) appears in the log:\n%s", len(s), out)
		}
	}
}
