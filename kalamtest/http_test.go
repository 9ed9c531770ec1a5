package kalamtest

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/kalamgo/kalam/transport/wire"
)

func TestHealth(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	for _, path := range []string{"/health", "/v1/api/healthcheck"} {
		r := cl.request(http.MethodGet, path, "")
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.Status)
		}
		m := r.JSON(t)
		if keys(m) != "api_version,build_date,status,version" || m["status"] != "healthy" || m["api_version"] != "v1" {
			t.Fatalf("%s: %s", path, r.Body)
		}
		for _, h := range []string{"X-Forwarded-For", "X-Real-IP"} {
			for _, v := range []string{"203.0.113.7", "127.0.0.1"} {
				r := cl.request(http.MethodGet, path, "", h, v)
				if r.Status != http.StatusForbidden {
					t.Fatalf("%s with %s %s: %d", path, h, v, r.Status)
				}
				wantJSON(t, r.Body, `{"error":"Access denied. Health endpoint is localhost-only."}`)
			}
		}
	}
}

func TestSQLAuthorization(t *testing.T) {
	now := time.Now()
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, refresh := cl.login("alice", alicePW)

	sign := func(claims jwt.MapClaims, key string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "alice", "iss": "kalamdb", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"email": nil, "role": "user", "token_type": "access"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	noneToken, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, claims(nil)).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		header []string // Authorization values; nil = none
		status int
		code   string
	}{
		{"valid", []string{"Bearer " + access}, 200, ""},
		{"HS512 is allowed for kalamdb", []string{"Bearer " + hs512}, 200, ""},
		{"within leeway", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-30 * time.Second).Unix() }), testSecret)}, 200, ""},
		{"no header", nil, 401, wire.CodeMissingAuthorization},
		{"empty header", []string{""}, 401, wire.CodeInvalidCredentials},
		{"basic", []string{"Basic YWxpY2U6YWxpY2U="}, 401, wire.CodeInvalidCredentials},
		{"BASIC upper case", []string{"BASIC YWxpY2U6YWxpY2U="}, 401, wire.CodeInvalidCredentials},
		{"lower-case bearer", []string{"bearer " + access}, 401, wire.CodeInvalidCredentials},
		{"bearer without token", []string{"Bearer "}, 401, wire.CodeInvalidCredentials},
		{"refresh token", []string{"Bearer " + refresh}, 401, wire.CodeInvalidCredentials},
		{"forged signature", []string{"Bearer " + sign(claims(nil), "another-secret")}, 401, wire.CodeInvalidCredentials},
		{"alg none", []string{"Bearer " + noneToken}, 401, wire.CodeInvalidCredentials},
		{"garbage", []string{"Bearer not.a.jwt"}, 401, wire.CodeInvalidCredentials},
		{"expired", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), testSecret)}, 401, wire.CodeTokenExpired},
		{"forged and expired", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), "x")}, 401, wire.CodeInvalidCredentials},
		{"other issuer", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { c["iss"] = "evil" }), testSecret)}, 401, wire.CodeInvalidCredentials},
		{"no exp", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { delete(c, "exp") }), testSecret)}, 401, wire.CodeInvalidCredentials},
		{"iat in the future", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { c["iat"] = now.Add(5 * time.Minute).Unix() }), testSecret)}, 401, wire.CodeInvalidCredentials},
		{"no sub", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { delete(c, "sub") }), testSecret)}, 401, wire.CodeInvalidCredentials},
		{"no token_type", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { delete(c, "token_type") }), testSecret)}, 401, wire.CodeInvalidCredentials},
		{"unknown user", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { c["sub"] = "mallory" }), testSecret)}, 401, wire.CodeInvalidCredentials},
		{"role mismatch", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { c["role"] = "dba" }), testSecret)}, 401, wire.CodeInvalidCredentials},
		{"no role claim", []string{"Bearer " + sign(claims(func(c jwt.MapClaims) { delete(c, "role") }), testSecret)}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := []string{"Content-Type", "application/json"}
			for _, v := range tt.header {
				hdr = append(hdr, "Authorization", v)
			}
			r := cl.request(http.MethodPost, "/v1/api/sql", `{"sql":"SELECT 1 AS one"}`, hdr...)
			if tt.code == "" {
				if r.Status != tt.status {
					t.Fatalf("status %d: %s", r.Status, r.Body)
				}
				return
			}
			if code := sqlError(t, r, tt.status); code != tt.code {
				t.Fatalf("code %s, want %s", code, tt.code)
			}
			if msg := r.JSON(t)["error"].(map[string]any)["message"]; tt.code != wire.CodeMissingAuthorization && msg != "Invalid credentials" {
				t.Fatalf("message %v", msg)
			}
		})
	}
	cl.healthy()
}

func TestSQLRequestErrors(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, _ := cl.login("alice", alicePW)
	auth := "Bearer " + access
	tests := []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"no content type", "", `{"sql":"SELECT 1"}`, 400, wire.CodeInvalidInput},
		{"text/plain", "text/plain", `{"sql":"SELECT 1"}`, 400, wire.CodeInvalidInput},
		{"malformed JSON", "application/json", `{"sql":`, 400, wire.CodeInvalidInput},
		{"not an object", "application/json", `[1]`, 400, wire.CodeInvalidInput},
		{"missing sql", "application/json", `{"params":[]}`, 400, wire.CodeInvalidInput},
		{"trailing data", "application/json", `{"sql":"SELECT 1"} x`, 400, wire.CodeInvalidInput},
		{"multipart", "multipart/form-data; boundary=x", "--x--", 400, wire.CodeInvalidInput},
		{"empty sql", "application/json", `{"sql":"  "}`, 400, wire.CodeEmptySQL},
		{"array param", "application/json", `{"sql":"SELECT $1","params":[[1]]}`, 400, wire.CodeInvalidParameter},
		{"params with batch", "application/json", `{"sql":"SELECT $1; SELECT 2","params":[1]}`, 400, wire.CodeParamsWithBatch},
		{"missing table", "application/json", `{"sql":"SELECT * FROM app.nope"}`, 400, wire.CodeSQLExecutionError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := []string{"Authorization", auth}
			if tt.ctype != "" {
				hdr = append(hdr, "Content-Type", tt.ctype)
			}
			r := cl.request(http.MethodPost, "/v1/api/sql", tt.body, hdr...)
			if code := sqlError(t, r, tt.status); code != tt.code {
				t.Fatalf("code %s, want %s: %s", code, tt.code, r.Body)
			}
		})
	}
	cl.healthy()
}

func TestSQLSuccessForms(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, _ := cl.login("alice", alicePW)

	// Batch form: DML/DDL results, no "error" key at all.
	r := cl.sql(access, "INSERT INTO app.orders (id, status) VALUES (1, 'open'), (9007199254740993, 'paid')")
	if r.Status != 200 {
		t.Fatalf("insert: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if keys(m) != "results,status,took" || m["status"] != "success" {
		t.Fatalf("batch form: %s", r.Body)
	}
	res := m["results"].([]any)[0].(map[string]any)
	if res["message"] != "Inserted 2 row(s)" || res["row_count"] != json.Number("2") || res["as_user"] != "alice" {
		t.Fatalf("insert result: %s", r.Body)
	}
	if _, ok := res["schema"]; ok {
		t.Fatalf("schema present on a DML result: %s", r.Body)
	}

	// Streamed form: one SELECT; schema and rows present, "error":null.
	r = cl.sql(access, "SELECT id, status FROM app.orders WHERE status = $1", "paid")
	if r.Status != 200 {
		t.Fatalf("select: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q", r.Header.Get("Content-Type"))
	}
	m = r.JSON(t)
	if keys(m) != "error,results,status,took" || m["error"] != nil {
		t.Fatalf("streamed form: %s", r.Body)
	}
	res = m["results"].([]any)[0].(map[string]any)
	if keys(res) != "as_user,row_count,rows,schema" {
		t.Fatalf("streamed result keys %s", keys(res))
	}
	wantJSON(t, mustJSON(t, res["rows"]), `[["9007199254740993","paid"]]`)
	wantJSON(t, mustJSON(t, res["schema"]), `[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"status","data_type":"Text","index":1}]`)

	// An empty streamed result still carries schema and rows.
	r = cl.sql(access, "SELECT id FROM app.orders WHERE id = -1")
	res = r.JSON(t)["results"].([]any)[0].(map[string]any)
	if !reflect.DeepEqual(res["rows"], []any{}) || res["row_count"] != json.Number("0") {
		t.Fatalf("empty streamed result: %s", r.Body)
	}

	// The body parses as wire.SQLResponse too.
	if _, err := wire.DecodeSQLResponse(r.Body); err != nil {
		t.Fatal(err)
	}

	// namespace_id resolves unqualified names.
	r = cl.postJSON("/v1/api/sql", map[string]any{"sql": "SELECT COUNT(*) AS n FROM orders", "namespace_id": "app"}, "Authorization", "Bearer "+access)
	if r.Status != 200 {
		t.Fatalf("namespace_id: %d %s", r.Status, r.Body)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLogin(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	before := time.Now()
	r := cl.postJSON("/v1/api/auth/login", map[string]string{"user": "dana", "password": danaPW})
	if r.Status != 200 {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if keys(m) != "access_token,admin_ui_access,expires_at,refresh_expires_at,refresh_token,user" {
		t.Fatalf("login keys %s", keys(m))
	}
	user := m["user"].(map[string]any)
	if keys(user) != "created_at,email,id,role,updated_at" || user["id"] != "dana" || user["role"] != "dba" || user["email"] != nil {
		t.Fatalf("user %v", user)
	}
	if m["admin_ui_access"] != true {
		t.Fatal("dba must have admin_ui_access")
	}
	for _, k := range []string{"expires_at", "refresh_expires_at"} {
		s := m[k].(string)
		if !strings.HasSuffix(s, "+00:00") {
			t.Fatalf("%s %q is not chrono's RFC 3339 form", k, s)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Fatal(err)
		}
	}
	exp, _ := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
	if d := exp.Sub(before); d < 24*time.Hour-time.Minute || d > 24*time.Hour+time.Minute {
		t.Fatalf("access lifetime %v, want 24h", d)
	}
	var lr wire.LoginResponse
	if err := json.Unmarshal(r.Body, &lr); err != nil {
		t.Fatalf("wire.LoginResponse: %v", err)
	}

	// Claims exactly as §3.1.
	checkClaims(t, m["access_token"].(string), "dana", "dba", "access", 24*time.Hour)
	checkClaims(t, m["refresh_token"].(string), "dana", "dba", "refresh", 7*24*time.Hour)

	// Cookies of §2.3.
	cookies := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		cookies[c.Name] = c
	}
	for name, val := range map[string]string{"kalamdb_auth": m["access_token"].(string), "kalamdb_refresh": m["refresh_token"].(string)} {
		c := cookies[name]
		if c == nil || c.Value != val || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Expires.IsZero() {
			t.Fatalf("cookie %s: %+v", name, c)
		}
	}

	// username alias.
	if r := cl.postJSON("/v1/api/auth/login", map[string]string{"username": "alice", "password": alicePW}); r.Status != 200 {
		t.Fatalf("username alias: %d %s", r.Status, r.Body)
	}

	tests := []struct {
		name, ctype, body string
		status            int
		authErr           string // auth envelope error; "" = plain text body
	}{
		{"wrong password", "application/json", `{"user":"alice","password":"nope"}`, 401, "unauthorized"},
		{"unknown user", "application/json", `{"user":"mallory","password":"x"}`, 401, "unauthorized"},
		{"unknown field", "application/json", `{"user":"alice","password":"x","remember":true}`, 400, ""},
		{"both user and username", "application/json", `{"user":"alice","username":"alice","password":"x"}`, 400, ""},
		{"missing password", "application/json", `{"user":"alice"}`, 400, ""},
		{"wrong type", "application/json", `{"user":1,"password":"x"}`, 400, ""},
		{"not JSON", "application/json", `user=alice`, 400, ""},
		{"no content type", "", `{"user":"alice","password":"x"}`, 400, ""},
		{"long user", "application/json", `{"user":"` + strings.Repeat("a", 129) + `","password":"x"}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.ctype != "" {
				hdr = []string{"Content-Type", tt.ctype}
			}
			r := cl.request(http.MethodPost, "/v1/api/auth/login", tt.body, hdr...)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.authErr == "" {
				if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
					t.Fatalf("want a plain-text body, got %q %s", r.Header.Get("Content-Type"), r.Body)
				}
				return
			}
			wantJSON(t, r.Body, `{"error":"`+tt.authErr+`","message":"Invalid credentials"}`)
		})
	}
}

// checkClaims decodes a token with the test secret and checks §3.1.
func checkClaims(t testing.TB, token, sub, role, typ string, ttl time.Duration) {
	t.Helper()
	var claims map[string]any
	tok, err := jwt.NewParser(jwt.WithJSONNumber()).ParseWithClaims(token, jwt.MapClaims{}, func(*jwt.Token) (any, error) { return []byte(testSecret), nil })
	if err != nil {
		t.Fatalf("parse %s token: %v", typ, err)
	}
	if tok.Header["alg"] != "HS256" || tok.Header["typ"] != "JWT" {
		t.Fatalf("header %v", tok.Header)
	}
	claims = tok.Claims.(jwt.MapClaims)
	if got := keys(claims); got != "email,exp,iat,iss,role,sub,token_type" {
		t.Fatalf("claims %s", got)
	}
	if claims["sub"] != sub || claims["iss"] != "kalamdb" || claims["role"] != role || claims["token_type"] != typ || claims["email"] != nil {
		t.Fatalf("claims %v", claims)
	}
	iat, _ := claims["iat"].(json.Number).Int64()
	exp, _ := claims["exp"].(json.Number).Int64()
	if time.Duration(exp-iat)*time.Second != ttl {
		t.Fatalf("exp-iat = %ds, want %v", exp-iat, ttl)
	}
}

func TestRefresh(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, refresh := cl.login("alice", alicePW)

	r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer "+refresh)
	if r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if keys(m) != "access_token,admin_ui_access,expires_at,refresh_expires_at,refresh_token,user" {
		t.Fatalf("refresh keys %s", keys(m))
	}
	if len((&http.Response{Header: r.Header}).Cookies()) != 2 {
		t.Fatal("refresh must reset both cookies")
	}
	if r := cl.sql(m["access_token"].(string), "SELECT 1 AS one"); r.Status != 200 {
		t.Fatalf("new access token: %d", r.Status)
	}

	// The cookie wins over the header.
	r = cl.request(http.MethodPost, "/v1/api/auth/refresh", "", "Authorization", "Bearer garbage", "Cookie", "kalamdb_refresh="+refresh)
	if r.Status != 200 {
		t.Fatalf("cookie refresh: %d %s", r.Status, r.Body)
	}

	// bob's role changes under his token: role mismatch.
	_, bobRefresh := cl.login("bob", bobPW)
	mustExec(t, srv, "root", "ALTER USER bob SET ROLE service")
	// alice's user row goes away: user no longer valid.
	_, carolRefresh := func() (string, string) {
		if err := srv.CreateUser("carol", "carol-Secret-1!", "user"); err != nil {
			t.Fatal(err)
		}
		return cl.login("carol", "carol-Secret-1!")
	}()
	mustExec(t, srv, "root", "DROP USER carol")

	tests := []struct {
		name    string
		headers []string
		msg     string
	}{
		{"access token", []string{"Authorization", "Bearer " + access}, "Refresh endpoint requires a refresh token"},
		{"garbage", []string{"Authorization", "Bearer x.y.z"}, "Invalid credentials"},
		{"role changed", []string{"Authorization", "Bearer " + bobRefresh}, "Token role does not match user role"},
		{"user dropped", []string{"Authorization", "Bearer " + carolRefresh}, "User no longer valid"},
		{"access cookie is not read", []string{"Cookie", "kalamdb_auth=" + refresh}, "Missing refresh token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cl.request(http.MethodPost, "/v1/api/auth/refresh", "", tt.headers...)
			if r.Status != 401 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			wantJSON(t, r.Body, `{"error":"unauthorized","message":"`+tt.msg+`"}`)
		})
	}
}

func TestLogoutAndMe(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, refresh := cl.login("alice", alicePW)

	r := cl.request(http.MethodPost, "/v1/api/auth/logout", "")
	wantJSON(t, r.Body, `{"message":"Logged out successfully"}`)
	cookies := (&http.Response{Header: r.Header}).Cookies()
	if len(cookies) != 2 {
		t.Fatalf("logout cookies: %v", cookies)
	}
	for _, c := range cookies {
		if c.Value != "" || !c.Expires.Equal(time.Unix(0, 0)) {
			t.Fatalf("cookie not expired: %+v", c)
		}
	}

	for name, hdr := range map[string][]string{
		"Bearer":           {"Authorization", "Bearer " + access},
		"lower-case":       {"Authorization", "bearer " + access},
		"cookie fallback":  {"Cookie", "kalamdb_auth=" + access},
		"header wins":      {"Authorization", "Bearer " + access, "Cookie", "kalamdb_auth=garbage"},
		"tokens still ok":  {"Authorization", "Bearer " + access}, // logout revokes nothing
		"header and empty": {"Authorization", "Bearer " + access, "Cookie", "kalamdb_auth="},
	} {
		r := cl.request(http.MethodGet, "/v1/api/auth/me", "", hdr...)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
		m := r.JSON(t)
		if keys(m) != "admin_ui_access,user" || m["admin_ui_access"] != false || m["user"].(map[string]any)["id"] != "alice" {
			t.Fatalf("%s: %s", name, r.Body)
		}
	}
	for name, hdr := range map[string][]string{
		"refresh token": {"Authorization", "Bearer " + refresh},
		"basic":         {"Authorization", "Basic YQ=="},
		"nothing":       nil,
	} {
		r := cl.request(http.MethodGet, "/v1/api/auth/me", "", hdr...)
		if r.Status != 401 || r.JSON(t)["error"] != "unauthorized" {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}

func TestSetupAndStatus(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.RootPassword, c.RequireSetup = "", true })
	cl := newClient(t, srv)
	if srv.RootPassword() != "" {
		t.Fatal("RequireSetup must leave root without a password")
	}
	r := cl.request(http.MethodGet, "/v1/api/auth/status", "")
	m := r.JSON(t)
	if r.Status != 200 || m["needs_setup"] != true {
		t.Fatalf("status: %s", r.Body)
	}
	if r := cl.postJSON("/v1/api/auth/login", map[string]string{"user": "root", "password": ""}); r.Status != http.StatusPreconditionRequired {
		t.Fatalf("root login before setup: %d %s", r.Status, r.Body)
	}

	bad := []struct {
		name   string
		body   map[string]string
		status int
		err    string
	}{
		{"root as dba", map[string]string{"user": "root", "password": "Admin-Pass-1", "root_password": "Root-Pass-1"}, 400, "invalid_user"},
		{"weak dba password", map[string]string{"user": "admin", "password": "short", "root_password": "Root-Pass-1"}, 400, "weak_password"},
		{"weak root password", map[string]string{"user": "admin", "password": "Admin-Pass-1", "root_password": "short"}, 400, "weak_password"},
		{"existing user", map[string]string{"user": "alice", "password": "Admin-Pass-1", "root_password": "Root-Pass-1"}, 409, "user_exists"},
	}
	for _, tt := range bad {
		r := cl.postJSON("/v1/api/auth/setup", tt.body)
		if r.Status != tt.status || r.JSON(t)["error"] != tt.err {
			t.Fatalf("%s: %d %s", tt.name, r.Status, r.Body)
		}
	}
	if r := cl.postJSON("/v1/api/auth/setup", map[string]string{"user": "admin", "password": "Admin-Pass-1", "root_password": "Root-Pass-1"}, "X-Forwarded-For", "203.0.113.9"); r.Status != 403 {
		t.Fatalf("remote setup: %d", r.Status)
	}
	if r := cl.request(http.MethodPost, "/v1/api/auth/setup", `{"user":"a","password":"b","root_password":"c","extra":1}`, "Content-Type", "application/json"); r.Status != 400 {
		t.Fatalf("unknown field: %d", r.Status)
	}

	r = cl.postJSON("/v1/api/auth/setup", map[string]string{"username": "admin", "password": "Admin-Pass-1", "root_password": "Root-Pass-1", "email": "admin@example.com"})
	if r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	m = r.JSON(t)
	user := m["user"].(map[string]any)
	if user["id"] != "admin" || user["role"] != "dba" || user["email"] != "admin@example.com" ||
		m["message"] != "Server setup complete. Root password configured and DBA user 'admin' created. Please login to continue." {
		t.Fatalf("setup: %s", r.Body)
	}
	if _, ok := m["access_token"]; ok {
		t.Fatal("setup must not return tokens")
	}
	cl.login("admin", "Admin-Pass-1")
	cl.login("root", "Root-Pass-1")

	r = cl.request(http.MethodGet, "/v1/api/auth/status", "")
	wantJSON(t, r.Body, `{"needs_setup":false,"message":"Server is configured and ready."}`)
	r = cl.postJSON("/v1/api/auth/setup", map[string]string{"user": "admin2", "password": "Admin-Pass-1", "root_password": "Root-Pass-1"})
	if r.Status != 409 || r.JSON(t)["error"] != "already_configured" {
		t.Fatalf("second setup: %d %s", r.Status, r.Body)
	}
	if r := cl.request(http.MethodGet, "/v1/api/auth/status", "", "X-Forwarded-For", "203.0.113.9"); r.Status != 403 {
		t.Fatalf("remote status: %d", r.Status)
	}
}

func TestBodyTooLarge(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	access, _ := cl.login("alice", alicePW)
	big := `{"sql":"SELECT '` + strings.Repeat("x", 3<<20) + `'"}`
	if code := sqlError(t, cl.request(http.MethodPost, "/v1/api/sql", big, "Content-Type", "application/json", "Authorization", "Bearer "+access), 400); code != wire.CodeInvalidInput {
		t.Fatalf("code %s", code)
	}
	huge := strings.Repeat("x", 11<<20)
	r := cl.request(http.MethodPost, "/v1/api/sql", huge, "Content-Type", "application/json", "Authorization", "Bearer "+access)
	if r.Status != http.StatusRequestEntityTooLarge || r.JSON(t)["error"] != "BODY_TOO_LARGE" {
		t.Fatalf("huge body: %d %.200s", r.Status, r.Body)
	}
	cl.healthy()
}
