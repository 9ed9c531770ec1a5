package kalamtest

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func corsDo(t *testing.T, srv *Server, method, path string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCORSDefaultAnyOrigin(t *testing.T) {
	srv := startServer(t, nil)
	const origin = "http://127.0.0.1:8123"

	// Preflight of a JSON login: 200 with KalamDB's lists.
	r := corsDo(t, srv, "OPTIONS", "/v1/api/auth/login", "Origin", origin,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type, authorization")
	h := r.Header
	if r.StatusCode != http.StatusOK || h.Get("Access-Control-Allow-Origin") != origin ||
		h.Get("Access-Control-Allow-Credentials") != "true" ||
		h.Get("Access-Control-Allow-Methods") != "GET, POST, PUT, DELETE, PATCH, OPTIONS" ||
		h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, Accept, Origin, X-Requested-With" ||
		h.Get("Access-Control-Max-Age") != "3600" || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Fatalf("preflight: %d %v", r.StatusCode, h)
	}
	// A header outside the list, or a method outside it, is refused.
	for _, hv := range [][]string{{"POST", "X-Custom"}, {"TRACE", ""}} {
		r = corsDo(t, srv, "OPTIONS", "/v1/api/sql", "Origin", origin,
			"Access-Control-Request-Method", hv[0], "Access-Control-Request-Headers", hv[1])
		if r.StatusCode != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight %v: %d %v", hv, r.StatusCode, r.Header)
		}
	}

	// The actual call carries the echoed origin and credentials.
	r = corsDo(t, srv, "GET", "/v1/api/auth/status", "Origin", origin)
	if r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != origin ||
		r.Header.Get("Access-Control-Allow-Credentials") != "true" || r.Header.Get("Vary") != "Origin" {
		t.Fatalf("simple call: %d %v", r.StatusCode, r.Header)
	}
	// Without Origin (not a browser): no CORS headers at all.
	r = corsDo(t, srv, "GET", "/v1/api/auth/status")
	if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Vary") != "" {
		t.Fatalf("no Origin: %v", r.Header)
	}

	// The admin endpoint gets no CORS: neither a preflight nor a call.
	r = corsDo(t, srv, "OPTIONS", adminPrefix+"faults/drop-connections", "Origin", origin, "Access-Control-Request-Method", "POST")
	if r.StatusCode == http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("admin preflight: %d %v", r.StatusCode, r.Header)
	}
	r = corsDo(t, srv, "POST", adminPrefix+"faults/expire-tokens", "Origin", origin)
	if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("admin call: %d %v", r.StatusCode, r.Header)
	}
}

func TestCORSRestrictedOrigins(t *testing.T) {
	const good, bad = "https://app.example", "https://evil.example"
	srv := startServer(t, func(c *Config) { c.CORSOrigins = []string{good + "/"} })

	r := corsDo(t, srv, "OPTIONS", "/v1/api/sql", "Origin", good, "Access-Control-Request-Method", "POST")
	if r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != good {
		t.Fatalf("allowed origin preflight: %d %v", r.StatusCode, r.Header)
	}
	r = corsDo(t, srv, "OPTIONS", "/v1/api/sql", "Origin", bad, "Access-Control-Request-Method", "POST")
	if r.StatusCode != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("refused origin preflight: %d %v", r.StatusCode, r.Header)
	}
	r = corsDo(t, srv, "GET", "/v1/api/auth/status", "Origin", bad)
	if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Vary") != "Origin" {
		t.Fatalf("refused origin call: %v", r.Header)
	}
	// The WebSocket handshake has no CORS: a refused origin gets 403 from
	// the server itself; an allowed one reaches the upgrade.
	ws := []string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}
	if r = corsDo(t, srv, "GET", "/v1/ws", append(ws, "Origin", bad)...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("ws from a refused origin: %d", r.StatusCode)
	}
	if r = corsDo(t, srv, "GET", "/v1/ws", append(ws, "Origin", good)...); r.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("ws from an allowed origin: %d", r.StatusCode)
	}

	for _, o := range []string{"app.example", "https://app.example/path", "ftp://x", ""} {
		_, err := Start(Config{CORSOrigins: []string{o}})
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "CORSOrigins" || !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("CORSOrigins %q: %v", o, err)
		}
	}
}
