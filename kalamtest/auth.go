package kalamtest

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kalamgo/kalam/kalamtest/internal/store"
	"github.com/kalamgo/kalam/transport/wire"
)

// Cookie names (§2.3).
const (
	cookieAuth    = "kalamdb_auth"
	cookieRefresh = "kalamdb_refresh"
)

// Field limits of the login request (§2.7).
const (
	maxUserLen     = 128
	maxPasswordLen = 256
	minPasswordLen = 8 // kalamtest's rule for /auth/setup
)

// loginBody is the login/refresh response. Timestamps are RFC 3339 with a
// "+00:00" offset, as chrono writes them.
type loginBody struct {
	User             wire.UserInfo `json:"user"`
	AdminUIAccess    bool          `json:"admin_ui_access"`
	ExpiresAt        string        `json:"expires_at"`
	AccessToken      string        `json:"access_token"`
	RefreshToken     string        `json:"refresh_token"`
	RefreshExpiresAt string        `json:"refresh_expires_at"`
}

func timeString(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999999-07:00") }

func userInfo(u store.UserInfo) wire.UserInfo {
	return wire.UserInfo{ID: u.ID, Role: u.Role, Email: u.Email, CreatedAt: timeString(u.CreatedAt), UpdatedAt: timeString(u.UpdatedAt)}
}

func adminUI(role string) bool { return role == "dba" || role == "system" }

func writeAuthError(w http.ResponseWriter, status int, kind, msg string) {
	writeJSON(w, status, wire.AuthErrorBody{Error: kind, Message: msg})
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	f, ok := readFields(w, r, []string{"user", "password"}, nil)
	if !ok {
		return
	}
	user, pw := f["user"], f["password"]
	if len(user) > maxUserLen || len(pw) > maxPasswordLen {
		writeText(w, http.StatusBadRequest, "Json deserialize error: user or password too long")
		return
	}
	u, err := s.db.Authenticate(user, pw)
	if err != nil {
		if user == rootUser && pw == "" && !s.db.HasPassword(rootUser) {
			writeAuthError(w, http.StatusPreconditionRequired, "setup_required", "Server requires initial setup")
			return
		}
		s.log.Info("kalamtest: login failed", "user", user)
		writeAuthError(w, http.StatusUnauthorized, wire.AuthErrorUnauthorized, msgInvalidCredentials)
		return
	}
	s.log.Debug("kalamtest: login", "user", u.ID)
	s.writeTokens(w, r, u)
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var token string
	if c, err := r.Cookie(cookieRefresh); err == nil && c.Value != "" {
		token = c.Value
	} else if t, ok := bearerToken(r.Header.Get("Authorization")); ok {
		token = t
	}
	if token == "" {
		writeAuthError(w, http.StatusUnauthorized, wire.AuthErrorUnauthorized, "Missing refresh token")
		return
	}
	u, err := s.checkToken(token, tokenTypeRefresh)
	if err != nil {
		s.log.Info("kalamtest: refresh refused", "reason", reasonOf(err))
		msg := msgInvalidCredentials
		switch faultOf(err) {
		case faultWrongType:
			msg = "Refresh endpoint requires a refresh token"
		case faultNoUser:
			msg = "User no longer valid"
		case faultRole:
			msg = "Token role does not match user role"
		}
		writeAuthError(w, http.StatusUnauthorized, wire.AuthErrorUnauthorized, msg)
		return
	}
	s.log.Debug("kalamtest: refresh", "user", u.ID)
	s.writeTokens(w, r, u)
}

// writeTokens mints a pair for u and answers with the login body and the
// two cookies.
func (s *Server) writeTokens(w http.ResponseWriter, r *http.Request, u store.UserInfo) {
	t, err := s.tok.mint(u)
	if err != nil {
		writeAuthError(w, http.StatusInternalServerError, "internal_error", "Failed to generate token")
		return
	}
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: cookieAuth, Value: t.access, Path: "/", Expires: t.accessExp,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure})
	http.SetCookie(w, &http.Cookie{Name: cookieRefresh, Value: t.refresh, Path: "/", Expires: t.refreshExp,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure})
	writeJSON(w, http.StatusOK, loginBody{
		User:             userInfo(u),
		AdminUIAccess:    adminUI(u.Role),
		ExpiresAt:        timeString(t.accessExp),
		AccessToken:      t.access,
		RefreshToken:     t.refresh,
		RefreshExpiresAt: timeString(t.refreshExp),
	})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{cookieAuth, cookieRefresh} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Expires: time.Unix(0, 0),
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Logged out successfully"})
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	var token string
	if h, present := r.Header["Authorization"]; present && len(h) > 0 {
		t, ok := bearerToken(h[0])
		if !ok {
			writeAuthError(w, http.StatusUnauthorized, wire.AuthErrorUnauthorized, msgInvalidCredentials)
			return
		}
		token = t
	} else if c, err := r.Cookie(cookieAuth); err == nil && c.Value != "" {
		token = c.Value
	}
	if token == "" {
		writeAuthError(w, http.StatusUnauthorized, wire.AuthErrorUnauthorized, "Authentication required")
		return
	}
	u, err := s.checkToken(token, tokenTypeAccess)
	if err != nil {
		s.log.Info("kalamtest: /me refused a token", "reason", reasonOf(err))
		writeAuthError(w, http.StatusUnauthorized, wire.AuthErrorUnauthorized, msgInvalidCredentials)
		return
	}
	writeJSON(w, http.StatusOK, wire.MeResponse{User: userInfo(u), AdminUIAccess: adminUI(u.Role)})
}

func (s *Server) handleAuthStatus(w http.ResponseWriter, r *http.Request) {
	if !isLoopback(r) {
		writeAuthError(w, http.StatusForbidden, "forbidden", "Setup status is only available from localhost")
		return
	}
	if s.db.HasPassword(rootUser) {
		writeJSON(w, http.StatusOK, wire.AuthStatusResponse{NeedsSetup: false, Message: "Server is configured and ready."})
		return
	}
	writeJSON(w, http.StatusOK, wire.AuthStatusResponse{NeedsSetup: true,
		Message: "Server requires initial setup. Call POST /v1/api/auth/setup with user, password, root_password, and optional email."})
}

func (s *Server) handleSetup(w http.ResponseWriter, r *http.Request) {
	if !isLoopback(r) {
		writeAuthError(w, http.StatusForbidden, "forbidden", "Setup is only allowed from localhost")
		return
	}
	f, ok := readFields(w, r, []string{"user", "password", "root_password"}, []string{"email"})
	if !ok {
		return
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.db.HasPassword(rootUser) {
		writeAuthError(w, http.StatusConflict, wire.AuthErrorAlreadyConfigure, "Server is already configured")
		return
	}
	user := f["user"]
	switch {
	case user == "" || strings.EqualFold(user, rootUser):
		writeAuthError(w, http.StatusBadRequest, "invalid_user", "The DBA user name must not be empty or 'root'")
		return
	case len(f["password"]) < minPasswordLen:
		writeAuthError(w, http.StatusBadRequest, "weak_password", "DBA user password: must be at least "+strconv.Itoa(minPasswordLen)+" characters")
		return
	case len(f["root_password"]) < minPasswordLen:
		writeAuthError(w, http.StatusBadRequest, "weak_password", "Root password: must be at least "+strconv.Itoa(minPasswordLen)+" characters")
		return
	}
	if _, exists := s.db.LookupUser(user); exists {
		writeAuthError(w, http.StatusConflict, "user_exists", "User '"+short(user)+"' already exists")
		return
	}
	var email *string
	if e, ok := f["email"]; ok {
		email = &e
	}
	if err := s.db.CreateUser(user, f["password"], "dba", email); err != nil {
		writeAuthError(w, http.StatusBadRequest, "invalid_user", "Invalid user")
		return
	}
	if err := s.db.SetPassword(rootUser, f["root_password"]); err != nil {
		writeAuthError(w, http.StatusInternalServerError, "internal_error", "Failed to set the root password")
		return
	}
	u, _ := s.db.LookupUser(user)
	s.log.Info("kalamtest: setup complete", "dba", user)
	writeJSON(w, http.StatusOK, map[string]any{
		"user":    userInfo(u),
		"message": "Server setup complete. Root password configured and DBA user '" + user + "' created. Please login to continue.",
	})
}

// bearerToken takes the token from "Bearer <token>", the scheme matched
// without regard to case (the /me and /refresh rule).
func bearerToken(h string) (string, bool) {
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	return t, t != ""
}

// readFields parses a deny_unknown_fields JSON object of string fields,
// with "username" as an alias of "user", the way actix+serde do for login
// and setup. Failures get a plain-text 400. optional fields may be absent
// or null.
func readFields(w http.ResponseWriter, r *http.Request, required, optional []string) (map[string]string, bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !isJSONType(mt) {
		writeText(w, http.StatusBadRequest, "Content type error")
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody))
	if err != nil {
		writeText(w, http.StatusBadRequest, "Json deserialize error: "+bodyReadError(err))
		return nil, false
	}
	var raw map[string]json.RawMessage
	if reason := decodeStrict(body, &raw, false); reason != "" {
		writeText(w, http.StatusBadRequest, "Json deserialize error: "+reason)
		return nil, false
	}
	if raw == nil {
		writeText(w, http.StatusBadRequest, "Json deserialize error: invalid type: null, expected a map")
		return nil, false
	}
	known := map[string]bool{"username": true}
	for _, f := range required {
		known[f] = true
	}
	for _, f := range optional {
		known[f] = true
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			writeText(w, http.StatusBadRequest, "Json deserialize error: unknown field `"+short(k)+"`")
			return nil, false
		}
	}
	if _, dup := raw["user"]; dup {
		if _, alias := raw["username"]; alias {
			writeText(w, http.StatusBadRequest, "Json deserialize error: duplicate field `user`")
			return nil, false
		}
	} else if v, alias := raw["username"]; alias {
		raw["user"] = v
	}
	delete(raw, "username")
	out := make(map[string]string, len(raw))
	get := func(name string, opt bool) bool {
		v, ok := raw[name]
		if !ok || (opt && string(v) == "null") {
			if opt {
				return true
			}
			writeText(w, http.StatusBadRequest, "Json deserialize error: missing field `"+name+"`")
			return false
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			writeText(w, http.StatusBadRequest, "Json deserialize error: invalid type for field `"+name+"`, expected a string")
			return false
		}
		out[name] = s
		return true
	}
	for _, f := range required {
		if !get(f, false) {
			return nil, false
		}
	}
	for _, f := range optional {
		if !get(f, true) {
			return nil, false
		}
	}
	return out, true
}
