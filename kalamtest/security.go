package kalamtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kalamgo/kalam/kalamtest/internal/store"
)

// Resource-limit defaults (see Config.StatementTimeout, Config.SQLMemoryLimit
// and Config.MaxValueBytes).
const (
	DefaultStatementTimeout = store.DefaultStatementTimeout
	DefaultSQLMemoryLimit   = store.DefaultHeapLimit
	DefaultMaxValueBytes    = store.DefaultMaxValueBytes
)

// AdminTokenHeader is the header that carries the admin token, as an
// alternative to "Authorization: Bearer <token>".
const AdminTokenHeader = "X-Kalamtest-Admin"

// AdminToken returns the token every request to /_kalamtest/ must carry:
// Config.AdminToken, or the one generated at start.
func (s *Server) AdminToken() string { return s.cfg.AdminToken }

// securityDefaults fills in the fields of the security settings.
func (c *Config) securityDefaults() error {
	if c.AdminToken == "" {
		c.AdminToken = randomString(24)
	}
	if c.MaxValueBytes > 1<<30 {
		return &ConfigError{Field: "MaxValueBytes", Reason: "above SQLite's maximum of 1 GiB"}
	}
	return nil
}

// storeLimits turns the Config's limits into the store's.
func (c Config) storeLimits() store.Limits {
	return store.Limits{StatementTimeout: c.StatementTimeout, HeapLimit: c.SQLMemoryLimit, MaxValueBytes: c.MaxValueBytes}
}

// dataPath prepares Config.DataDir and returns the database path in it
// ("" for an in-memory database). The directory is made private (0700) and
// the database file is created private (0600) before SQLite opens it:
// SQLite gives its -wal and -shm files the mode of the database file.
// Files left by an older run are tightened too, since they hold password
// hashes.
func dataPath(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kalamtest.db")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return path, nil
}

// adminAllowed guards every admin route. It answers and returns false
// unless the request comes over loopback, names a loopback host or the
// listen host (no DNS rebinding), carries no foreign Origin (no
// cross-site request), sends the admin token, and, for a POST, declares a
// JSON body (a browser form or a text/plain fetch cannot).
func (s *Server) adminAllowed(w http.ResponseWriter, r *http.Request) bool {
	deny := func(status int, msg string) bool {
		// Never the token: only what identifies the caller.
		s.log.Warn("kalamtest: admin request refused", "status", status, "method", r.Method, "path", r.URL.Path,
			"host", r.Host, "origin", r.Header.Get("Origin"))
		writeJSON(w, status, map[string]string{"error": msg})
		return false
	}
	switch {
	case !isLoopback(r):
		return deny(http.StatusForbidden, "Access denied. The kalamtest admin endpoint is localhost-only.")
	case !s.allowedHost(r.Host):
		return deny(http.StatusForbidden, "Access denied: Host "+quoteHeader(r.Host)+" is not a loopback or listen address.")
	case !sameOrigin(r):
		return deny(http.StatusForbidden, "Access denied: cross-origin requests to the admin endpoint are refused.")
	case !s.adminTokenOK(r):
		w.Header().Set("WWW-Authenticate", `Bearer realm="kalamtest-admin"`)
		return deny(http.StatusUnauthorized, "Admin token missing or wrong: send it as 'Authorization: Bearer <token>' or '"+AdminTokenHeader+": <token>'.")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if !strings.EqualFold(mt, "application/json") {
			return deny(http.StatusUnsupportedMediaType, "Admin requests must have Content-Type: application/json.")
		}
	}
	return true
}

// quoteHeader shortens and quotes a header value for an error message.
func quoteHeader(v string) string {
	if len(v) > 64 {
		v = v[:64] + "…"
	}
	return "'" + v + "'"
}

// allowedHost reports whether the Host header names this server by a
// loopback name or address, or by the host it was told to listen on.
func (s *Server) allowedHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, addr := range []string{s.cfg.Addr, s.addr} {
		h, _, err := net.SplitHostPort(addr)
		if err != nil || h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			continue // 0.0.0.0 names no host
		}
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

// sameOrigin refuses requests a browser sends on behalf of another site:
// an Origin that is not this very host, or Sec-Fetch-Site saying so.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser's cross-origin request
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// adminTokenOK compares the presented token with the configured one in
// constant time (over hashes, so the length does not leak either).
func (s *Server) adminTokenOK(r *http.Request) bool {
	got := r.Header.Get(AdminTokenHeader)
	if got == "" {
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got = strings.TrimSpace(v)
		}
	}
	if got == "" || s.cfg.AdminToken == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(s.cfg.AdminToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// recoverPanics turns a panic in one request into a 500 answer and a log
// line, so one bad request never takes the server or the next request
// with it. The store cleans up its own state when a statement panics;
// this is the last line behind it.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			s.log.Error("kalamtest: request panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeSQLError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Internal server error", "", time.Now())
		}()
		next.ServeHTTP(w, r)
	})
}
