package kalamtest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CORS as KalamDB answers it by default: any origin may call the API from
// a browser, with credentials, so the Origin is echoed (never "*", which
// browsers refuse together with credentials) and Vary: Origin tells caches.
// Config.CORSOrigins narrows the origins. The admin routes under
// /_kalamtest/ never get CORS headers: a page on another origin must not
// drive the fault endpoint through a visitor's browser.
const (
	corsMethods = "GET, POST, PUT, DELETE, PATCH, OPTIONS"
	corsHeaders = "Authorization, Content-Type, Accept, Origin, X-Requested-With"
	corsMaxAge  = "3600"
)

var (
	corsMethodSet = map[string]bool{"GET": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true, "OPTIONS": true}
	corsHeaderSet = map[string]bool{"authorization": true, "content-type": true, "accept": true, "origin": true, "x-requested-with": true}
)

// checkCORSOrigins validates Config.CORSOrigins: each entry is "*" or an
// origin, scheme://host[:port] with no path.
func checkCORSOrigins(origins []string) error {
	for _, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return &ConfigError{Field: "CORSOrigins", Reason: "want * or an origin such as https://app.example:8443, got " + strconv.Quote(o)}
		}
	}
	return nil
}

// corsAllows reports whether origin may call the API.
func (s *Server) corsAllows(origin string) bool {
	if len(s.cfg.CORSOrigins) == 0 {
		return true
	}
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// cors wraps the routes with KalamDB's CORS behaviour.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || strings.HasPrefix(r.URL.Path, adminPrefix) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		allowed := s.corsAllows(origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		switch {
		case preflight:
			s.preflight(w, r, origin, allowed)
			return
		case !allowed && r.URL.Path == "/v1/ws":
			// A browser sends Origin on every WebSocket handshake and
			// applies no CORS to it: the server must refuse it itself.
			http.Error(w, "Origin not allowed", http.StatusForbidden)
			return
		case allowed:
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		next.ServeHTTP(w, r)
	})
}

// preflight answers an OPTIONS preflight: 200 with the allowed methods and
// headers, or 403 without CORS headers (the browser then blocks the call).
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, origin string, allowed bool) {
	w.Header().Add("Vary", "Access-Control-Request-Method")
	w.Header().Add("Vary", "Access-Control-Request-Headers")
	if !allowed {
		http.Error(w, "Origin is not allowed to make this request", http.StatusForbidden)
		return
	}
	if !corsMethodSet[strings.ToUpper(r.Header.Get("Access-Control-Request-Method"))] {
		http.Error(w, "Method is not allowed", http.StatusForbidden)
		return
	}
	for _, line := range r.Header.Values("Access-Control-Request-Headers") {
		for _, h := range strings.Split(line, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" && !corsHeaderSet[h] {
				http.Error(w, "Header is not allowed: "+h, http.StatusForbidden)
				return
			}
		}
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Allow-Credentials", "true")
	hd.Set("Access-Control-Allow-Methods", corsMethods)
	hd.Set("Access-Control-Allow-Headers", corsHeaders)
	hd.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusOK)
}
