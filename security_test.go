//go:build !js

package kalam_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/e2etest"
	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/kalamtest/faultproxy"
)

// requestLines records the first line of every HTTP request that crosses
// a proxy (method and URL, query string included).
type requestLines struct {
	mu    sync.Mutex
	lines []string
}

func (r *requestLines) tap(_ int, dir faultproxy.Direction, chunk []byte) (int, bool) {
	if dir == faultproxy.ClientToServer {
		sc := bufio.NewScanner(bytes.NewReader(chunk))
		for sc.Scan() {
			line := sc.Text()
			for _, m := range []string{"GET ", "POST ", "PUT ", "DELETE ", "HEAD "} {
				if strings.HasPrefix(line, m) && strings.Contains(line, " HTTP/1.1") {
					r.mu.Lock()
					r.lines = append(r.lines, line)
					r.mu.Unlock()
				}
			}
		}
	}
	return len(chunk), false
}

func (r *requestLines) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// TestNoCredentialAnywhere drives a client through login, live rows,
// reconnects, refreshes, server-side expiry and failing queries with
// logging at debug level, and looks for every password and token it
// handled in everything it produced: log records, errors and connection
// events, the URLs it requested, its String, its Config printed and
// marshalled, its subscriptions, and the lifecycle diagrams.
func TestNoCredentialAnywhere(t *testing.T) {
	e := newEnv(t, kalamtest.Config{AccessTokenTTL: 2 * time.Second, Leeway: -1}, true)
	var reqs requestLines
	e.proxy.SetTap(reqs.tap)
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug - 8}))
	var secretsMu sync.Mutex
	secrets := map[string]bool{alicePassword: true}
	base := auth.Basic("alice", alicePassword)
	recording := auth.ProviderFunc(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
		creds, err := base.Credentials(ctx, req)
		if err == nil {
			secretsMu.Lock()
			secrets[creds.AccessToken.Reveal()] = true
			secrets[creds.RefreshToken.Reveal()] = true
			secretsMu.Unlock()
		}
		return creds, err
	})
	var outMu sync.Mutex
	var out []string // everything the client handed the application
	add := func(s string) { outMu.Lock(); out = append(out, s); outMu.Unlock() }
	st := e2etest.NewStates()
	cfg := kalam.Config{
		URL:           e.url,
		Auth:          recording,
		Namespace:     "app",
		BackoffMin:    20 * time.Millisecond,
		BackoffMax:    200 * time.Millisecond,
		PingInterval:  500 * time.Millisecond,
		PongTimeout:   time.Second,
		RefreshMargin: 500 * time.Millisecond,
		Logger:        logger,
		OnStateChange: func(tr kalam.Transition) { st.Record(tr); add(fmt.Sprintf("%+v", tr)) },
		OnConnection:  func(ev kalam.ConnectionEvent) { add(fmt.Sprintf("%+v %v", ev, ev.Err)) },
		OnError:       func(err error, _ bool) { add(fmt.Sprintf("%v %+v", err, err)) },
	}
	c, err := kalam.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := e2etest.Ctx(t, 30*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, sub)
	st.WaitFor(t, ctx, kalam.StateLive)
	e.write("INSERT INTO app.orders (id, status) VALUES (1, 'open')")
	col.WaitFor(t, ctx, "row 1", e2etest.HasIDs("1"))
	e.proxy.Drop()                      // reconnect with the current token
	time.Sleep(2500 * time.Millisecond) // workload: outlive one token so a refresh happens
	e.write("INSERT INTO app.orders (id, status) VALUES (2, 'open')")
	col.WaitFor(t, ctx, "row 2", e2etest.HasIDs("2"))
	e.srv.ExpireAllTokens() // the next query gets TOKEN_EXPIRED and logs in again
	if _, err := c.Query(ctx, "SELECT COUNT(*) AS n FROM orders"); err != nil {
		add(err.Error())
	}
	e.srv.DropConnections()
	e.write("INSERT INTO app.orders (id, status) VALUES (3, 'open')")
	col.WaitFor(t, ctx, "row 3", e2etest.HasIDs("3"))
	for _, sql := range []string{"SELECT * FROM app.nope", "SELEKT", "INSERT INTO app.orders (id) VALUES (1)"} {
		_, err := c.Query(ctx, sql)
		add(fmt.Sprintf("%v %+v %#v", err, err, err))
	}
	add(c.String())
	add(fmt.Sprintf("%v %+v", c.Subscriptions(), c.Subscriptions()))
	add(fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg.Auth))
	if j, err := json.Marshal(cfg); err == nil {
		add(string(j))
	}
	add(fsm.Mermaid())
	add(fsm.DOT())
	c.Close()

	if !strings.Contains(logs.String(), `"level":"DEBUG"`) {
		t.Fatal("debug logging produced nothing; the test would prove nothing")
	}
	lines := reqs.all()
	if len(lines) < 4 {
		t.Fatalf("only %d requests seen through the proxy: %v", len(lines), lines)
	}
	secretsMu.Lock()
	defer secretsMu.Unlock()
	if len(secrets) < 5 {
		t.Fatalf("only %d secrets recorded; the client never refreshed", len(secrets))
	}
	outMu.Lock()
	defer outMu.Unlock()
	places := map[string]string{
		"log records":           logs.String(),
		"request URLs":          strings.Join(lines, "\n"),
		"errors, events, dumps": strings.Join(out, "\n"),
	}
	for where, text := range places {
		for s := range secrets {
			if s == "" {
				continue
			}
			if strings.Contains(text, s) {
				t.Errorf("a credential (%d chars) appears in the %s", len(s), where)
			}
		}
	}
	for _, l := range lines {
		if strings.Contains(strings.ToLower(l), "token=") || strings.Contains(strings.ToLower(l), "password=") {
			t.Errorf("a credential parameter in a URL: %s", l)
		}
	}
}

// tlsScripted is the scripted server over TLS with a self-signed
// certificate, answering queries with one row.
func tlsScripted(t *testing.T) *scripted {
	s := &scripted{tls: true, sql: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","results":[{"schema":[{"name":"n","data_type":"BigInt","index":0}],"rows":[["1"]],"row_count":1,"as_user":"alice"}],"took":0.1}`))
	}}
	return newScripted(t, s)
}

// TestTLSVerifiedByDefault: against a server whose certificate nobody
// vouches for, queries and the socket fail with a certificate error unless
// the application supplies an HTTP client that trusts it.
func TestTLSVerifiedByDefault(t *testing.T) {
	s := tlsScripted(t)
	if !strings.HasPrefix(s.srv.URL, "https://") {
		t.Fatalf("server URL %s", s.srv.URL)
	}
	ctx := e2etest.Ctx(t, 20*time.Second)

	c := newBadClient(t, s.srv.URL, nil)
	_, err := c.Query(ctx, "SELECT 1")
	if err == nil || !mentionsCertificate(err) {
		t.Fatalf("Query to an untrusted certificate = %v, want a certificate verification error", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = c.Connect(cctx)
	cancel()
	if err == nil {
		t.Fatal("the socket connected to an untrusted certificate")
	}
	if n := s.conns.Load(); n != 0 {
		t.Fatalf("%d WebSocket upgrades reached the server over an unverified TLS connection", n)
	}
	found := false
	for _, p := range c.problems() {
		found = found || mentionsCertificate(p)
	}
	if !found {
		t.Errorf("the failed dial did not name the certificate: problems %v, Connect = %v", c.problems(), err)
	}

	trusting := newBadClient(t, s.srv.URL, func(cfg *kalam.Config) { cfg.HTTPClient = s.srv.Client() })
	if _, err := trusting.Query(ctx, "SELECT 1"); err != nil {
		t.Fatalf("Query with the application's trusting client = %v", err)
	}
	if err := trusting.Connect(ctx); err != nil {
		t.Fatalf("Connect with the application's trusting client = %v", err)
	}
}

func mentionsCertificate(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "x509") || strings.Contains(s, "certificate")
}

// warnRecorder keeps every log record.
type warnRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (w *warnRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnRecorder) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	w.recs = append(w.recs, r.Clone())
	w.mu.Unlock()
	return nil
}
func (w *warnRecorder) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnRecorder) WithGroup(string) slog.Handler      { return w }

const plainHTTPWarning = "kalam: credentials will be sent over plain HTTP to a non-loopback host"

// TestPlainHTTPToRemoteHostIsRefused: without Config.AllowInsecureHTTP,
// New refuses plain http:// to anything but a loopback IP or "localhost",
// with or without a Logger, before any request is made.
func TestPlainHTTPToRemoteHostIsRefused(t *testing.T) {
	token := fakeJWT(time.Now().Add(time.Hour))
	for _, u := range []string{"http://db.example.com:8080", "http://10.1.2.3", "http://127.evil.example:2900",
		"http://127.0.0.1.nip.io", "http://localhost.evil.example", "http://[::ffff:10.0.0.1]"} {
		for _, a := range []auth.Provider{auth.JWT(token), nil, auth.Anonymous()} {
			c, err := kalam.New(kalam.Config{URL: u, Auth: a})
			if err == nil {
				c.Close()
				t.Fatalf("New(%s) accepted plain HTTP to a remote host", u)
			}
			var ce *kalam.ConfigError
			if !errors.As(err, &ce) || ce.Field != "URL" || !strings.Contains(err.Error(), "AllowInsecureHTTP") {
				t.Fatalf("New(%s): %v, want a ConfigError on URL naming AllowInsecureHTTP", u, err)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatal("the token in an error")
			}
		}
	}
	for _, u := range []string{"http://127.0.0.1:1", "http://127.1.2.3:1", "http://localhost:1", "http://LOCALHOST.:1", "http://[::1]:1", "https://db.example.com"} {
		c, err := kalam.New(kalam.Config{URL: u})
		if err != nil {
			t.Fatalf("New(%s): %v", u, err)
		}
		c.Close()
	}
}

// TestPlainHTTPCredentialsWarning: with AllowInsecureHTTP, New warns once when credentials would
// travel over plain HTTP to a host that is not loopback, and never
// otherwise.
func TestPlainHTTPCredentialsWarning(t *testing.T) {
	token := fakeJWT(time.Now().Add(time.Hour))
	cases := []struct {
		url  string
		auth auth.Provider
		host string // "" means no warning
	}{
		{"http://db.example.com:8080", auth.JWT(token), "db.example.com"},
		// No provider here may reach the network: a login to a host that is
		// not there would leave a dial behind.
		{"http://10.1.2.3", auth.JWTWithRefresh(token, token), "10.1.2.3"},
		{"http://127.evil.example", auth.JWT(token), "127.evil.example"},
		{"https://db.example.com", auth.JWT(token), ""},
		{"http://127.0.0.1:8080", auth.JWT(token), ""},
		{"http://localhost:8080", auth.JWT(token), ""},
		{"http://[::1]:8080", auth.JWT(token), ""},
		{"http://db.example.com", auth.Anonymous(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			rec := &warnRecorder{}
			c, err := kalam.New(kalam.Config{URL: tc.url, Auth: tc.auth, Logger: slog.New(rec), AllowInsecureHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			var warns []slog.Record
			for _, r := range rec.recs {
				if r.Message == plainHTTPWarning {
					warns = append(warns, r)
				}
			}
			if tc.host == "" {
				if len(warns) != 0 {
					t.Fatalf("warned for %s", tc.url)
				}
				return
			}
			if len(warns) != 1 {
				t.Fatalf("%d warnings %q for %s, want exactly one", len(warns), plainHTTPWarning, tc.url)
			}
			if warns[0].Level != slog.LevelWarn {
				t.Fatalf("level %v, want Warn", warns[0].Level)
			}
			var host string
			warns[0].Attrs(func(a slog.Attr) bool {
				if a.Key == "host" {
					host = a.Value.String()
				}
				return true
			})
			if !strings.Contains(host, tc.host) {
				t.Fatalf("host attribute %q, want %q", host, tc.host)
			}
			for _, r := range rec.recs {
				var b strings.Builder
				b.WriteString(r.Message)
				r.Attrs(func(a slog.Attr) bool { fmt.Fprint(&b, a.Value.Any()); return true })
				if strings.Contains(b.String(), alicePassword) || strings.Contains(b.String(), token) {
					t.Fatal("a credential in a log record")
				}
			}
		})
	}
}
