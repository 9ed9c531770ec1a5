//go:build !js

package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/httpapi"
	"github.com/kalamgo/kalam/transport/wire"
)

// jwtFor mints an unsigned-looking JWT with the given claims JSON; the client
// never verifies signatures.
func jwtFor(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("signature-bytes"))
}

var (
	accessA1  = jwtFor(`{"sub":"alice","iss":"kalamdb","exp":1777975200,"iat":1777971600,"email":null,"role":"user","token_type":"access"}`)
	refreshR1 = jwtFor(`{"sub":"alice","iss":"kalamdb","exp":1777996800,"iat":1777971600,"email":null,"role":"user","token_type":"refresh"}`)
	password  = "Secret123!-not-in-logs"
)

// server runs h and returns a Client for it.
func server(t *testing.T, h http.HandlerFunc) (*httpapi.Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := httpapi.New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c, srv
}

// reply writes a canned response.
func reply(status int, contentType, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		in, want    string
		credentials bool
	}{
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "https://db.example.com/", want: "https://db.example.com"},
		{in: "HTTPS://db.example.com/kalam/", want: "https://db.example.com/kalam"},
		{in: "http://[::1]:8080/a%20b", want: "http://[::1]:8080/a%20b"},
		{in: ""},
		{in: "127.0.0.1:8080"},
		{in: "ftp://host"},
		{in: "ws://host/v1/ws"},
		{in: "http://"},
		{in: "http:///path"},
		{in: "http:opaque"},
		{in: "http://host?token=query-secret-value"},
		{in: "http://host/?"},
		{in: "http://host#section-xyz"},
		{in: "http://ho st"},
		{in: "http://host/\n"},
		{in: "http://%zz"},
		{in: "http://alice:" + password + "@host:8080", credentials: true},
		{in: "https://alice@host", credentials: true},
		{in: "http://alice:" + password + " x@host", credentials: true},
		{in: "http://alice:%zz" + password + "@host", credentials: true},
	} {
		c, err := httpapi.New(tc.in, nil)
		if tc.want != "" {
			if err != nil || c.BaseURL() != tc.want {
				t.Errorf("New(%q) = %v, %v; want %q", tc.in, c, err, tc.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("New(%q) accepted", tc.in)
			continue
		}
		var ue *httpapi.URLError
		if !errors.As(err, &ue) || !errors.Is(err, httpapi.ErrBadURL) {
			t.Errorf("New(%q): %T %v, want a URLError", tc.in, err, err)
		}
		if errors.Is(err, httpapi.ErrCredentialsInURL) != tc.credentials {
			t.Errorf("New(%q): ErrCredentialsInURL = %v, want %v", tc.in, !tc.credentials, tc.credentials)
		}
		for _, leak := range []string{password, "query-secret-value", "alice", "section-xyz", "opaque"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("New(%q): error %q quotes the URL", tc.in, err)
			}
		}
	}
}

// The streamed form of PROTOCOL.md §7 step 2.
const sqlStreamed = `{"status":"success","results":[{"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
{"name":"status","data_type":"Text","index":1}],"rows":[["1","open"]],"row_count":1,"as_user":"alice"}],
"took":2.417,"error":null}`

// The batch form of PROTOCOL.md §2.5: no error key.
const sqlBatch = `{"status":"success","results":[
 {"row_count":0,"message":"Table created successfully","as_user":"alice"},
 {"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]}],"rows":[["1"]],"row_count":1,"as_user":"alice"},
 {"row_count":3,"message":"Inserted 3 row(s)","as_user":"alice"}],"took":12.345}`

func TestSQLSuccess(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		check      func(t *testing.T, r *wire.SQLResponse)
	}{
		{"streamed", sqlStreamed, func(t *testing.T, r *wire.SQLResponse) {
			res := r.Results[0]
			if len(r.Results) != 1 || res.RowCount != 1 || res.AsUser != "alice" || r.Took != 2.417 || r.Error != nil {
				t.Errorf("response = %+v", r)
			}
			if len(res.Schema) != 2 || res.Schema[0].DataType.Name != wire.TypeBigInt || len(res.Schema[0].Flags) != 3 {
				t.Errorf("schema = %+v", res.Schema)
			}
			if len(res.Rows) != 1 || string(res.Rows[0][0]) != `"1"` || string(res.Rows[0][1]) != `"open"` {
				t.Errorf("rows = %s", res.Rows)
			}
		}},
		{"batch", sqlBatch, func(t *testing.T, r *wire.SQLResponse) {
			if len(r.Results) != 3 || r.Results[0].Message != "Table created successfully" || r.Results[0].Schema != nil ||
				r.Results[2].RowCount != 3 || r.Error != nil || r.Took != 12.345 {
				t.Errorf("response = %+v", r)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *http.Request
			var gotBody []byte
			c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
				got, gotBody = r, mustRead(r.Body)
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tc.body)
			})
			req := wire.SQLRequest{SQL: "SELECT id, status FROM orders WHERE status = $1", Params: []any{"open", 2}, NamespaceID: "app"}
			r, err := c.SQL(context.Background(), auth.NewSecret(accessA1), req)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
			if got.Method != http.MethodPost || got.URL.Path != wire.PathSQL {
				t.Errorf("request %s %s", got.Method, got.URL.Path)
			}
			if h := got.Header.Values("Authorization"); len(h) != 1 || h[0] != "Bearer "+accessA1 {
				t.Errorf("Authorization = %q", h)
			}
			if ct := got.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if want := `{"sql":"SELECT id, status FROM orders WHERE status = $1","params":["open",2],"namespace_id":"app"}`; string(gotBody) != want {
				t.Errorf("body = %s, want %s", gotBody, want)
			}
			if got.URL.RawQuery != "" {
				t.Errorf("query string %q", got.URL.RawQuery)
			}
		})
	}
}

func TestSQLAnonymousSendsNoAuthorization(t *testing.T) {
	var hdr http.Header
	c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header.Clone()
		_, _ = io.WriteString(w, sqlStreamed)
	})
	if _, err := c.SQL(context.Background(), auth.Secret{}, wire.SQLRequest{SQL: "SELECT 1"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := hdr["Authorization"]; ok {
		t.Errorf("anonymous request sent Authorization %q", hdr.Get("Authorization"))
	}
}

func TestSQLWithPathPrefix(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		_, _ = io.WriteString(w, sqlStreamed)
	}))
	defer srv.Close()
	c, err := httpapi.New(srv.URL+"/kalam/", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SQL(context.Background(), auth.NewSecret("t"), wire.SQLRequest{SQL: "SELECT 1"}); err != nil {
		t.Fatal(err)
	}
	if path != "/kalam"+wire.PathSQL {
		t.Errorf("path = %q", path)
	}
}

type wantErr struct {
	status      int
	code, msg   string
	details     string
	retryAfter  time.Duration
	expired     bool // errors.Is(err, auth.ErrTokenExpired)
	rejected    bool // errors.Is(err, auth.ErrRejected)
	retryable   bool
	approxRetry bool // retryAfter is a lower bound (HTTP date)
}

func checkErr(t *testing.T, err error, w wantErr) {
	t.Helper()
	var he *httpapi.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %T %v, want *httpapi.Error", err, err)
	}
	if he.Status != w.status || he.Code != w.code || he.Message != w.msg || he.Details != w.details {
		t.Errorf("got {%d %q %q %q}, want {%d %q %q %q}", he.Status, he.Code, he.Message, he.Details, w.status, w.code, w.msg, w.details)
	}
	if w.approxRetry {
		if he.RetryAfter <= 0 || he.RetryAfter > w.retryAfter {
			t.Errorf("RetryAfter = %v, want in (0, %v]", he.RetryAfter, w.retryAfter)
		}
	} else if he.RetryAfter != w.retryAfter {
		t.Errorf("RetryAfter = %v, want %v", he.RetryAfter, w.retryAfter)
	}
	if httpapi.RetryAfter(err) != he.RetryAfter {
		t.Error("RetryAfter accessor disagrees")
	}
	if errors.Is(err, auth.ErrTokenExpired) != w.expired {
		t.Errorf("Is(ErrTokenExpired) = %v, want %v", !w.expired, w.expired)
	}
	if errors.Is(err, auth.ErrRejected) != w.rejected {
		t.Errorf("Is(ErrRejected) = %v, want %v", !w.rejected, w.rejected)
	}
	if httpapi.IsRetryable(err) != w.retryable {
		t.Errorf("IsRetryable = %v, want %v", !w.retryable, w.retryable)
	}
}

func TestSQLErrorEnvelopes(t *testing.T) {
	const js = "application/json"
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want wantErr
	}{
		{"token expired", reply(401, js, `{"status":"error","results":[],"took":0.2,"error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"}}`),
			wantErr{status: 401, code: "TOKEN_EXPIRED", msg: "Invalid credentials", expired: true, rejected: true}},
		{"invalid credentials", reply(401, js, `{"status":"error","results":[],"took":0.1,"error":{"code":"INVALID_CREDENTIALS","message":"Invalid credentials"}}`),
			wantErr{status: 401, code: "INVALID_CREDENTIALS", msg: "Invalid credentials", rejected: true}},
		{"missing authorization", reply(401, js, `{"status":"error","results":[],"took":0.1,"error":{"code":"MISSING_AUTHORIZATION","message":"Authentication required"}}`),
			wantErr{status: 401, code: "MISSING_AUTHORIZATION", msg: "Authentication required", rejected: true}},
		{"account locked", reply(401, js, `{"status":"error","results":[],"took":0.1,"error":{"code":"ACCOUNT_LOCKED","message":"Account locked"}}`),
			wantErr{status: 401, code: "ACCOUNT_LOCKED", msg: "Account locked", rejected: true}},
		{"sql failure with details", reply(400, js, `{"status":"error","results":[],"took":1.234,"error":{"code":"SQL_EXECUTION_ERROR","message":"Statement 1 failed: table not found","details":"app.orderz"}}`),
			wantErr{status: 400, code: "SQL_EXECUTION_ERROR", msg: "Statement 1 failed: table not found", details: "app.orderz"}},
		{"details as an object", reply(400, js, `{"status":"error","results":[],"took":1,"error":{"code":"INVALID_SQL","message":"m","details":{"line":3}}}`),
			wantErr{status: 400, code: "INVALID_SQL", msg: "m", details: `{"line":3}`}},
		{"permission denied", reply(403, js, `{"status":"error","results":[],"took":1,"error":{"code":"PERMISSION_DENIED","message":"Permission denied"}}`),
			wantErr{status: 403, code: "PERMISSION_DENIED", msg: "Permission denied"}},
		{"per-user query rate", reply(429, js, `{"status":"error","results":[],"took":0,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many queries per second. Please slow down."}}`),
			wantErr{status: 429, code: "RATE_LIMIT_EXCEEDED", msg: "Too many queries per second. Please slow down.", retryable: true}},
		{"not leader", reply(503, js, `{"status":"error","results":[],"took":0,"error":{"code":"NOT_LEADER","message":"Not leader for shard. Leader: 10.0.0.2:8080"}}`),
			wantErr{status: 503, code: "NOT_LEADER", msg: "Not leader for shard. Leader: 10.0.0.2:8080", retryable: true}},
		{"auth envelope", reply(401, js, `{"error":"unauthorized","message":"Invalid credentials"}`),
			wantErr{status: 401, code: "unauthorized", msg: "Invalid credentials", rejected: true}},
		{"topic envelope", reply(404, js, `{"error":"Topic 'app.x' does not exist","code":"NOT_FOUND"}`),
			wantErr{status: 404, code: "NOT_FOUND", msg: "Topic 'app.x' does not exist"}},
		{"middleware rate limit", reply(429, js, `{"error":"RATE_LIMIT_EXCEEDED","message":"Too many requests","retry_after_seconds":1}`, "Retry-After", "1"),
			wantErr{status: 429, code: "RATE_LIMIT_EXCEEDED", msg: "Too many requests", retryAfter: time.Second, retryable: true}},
		{"ip banned, body only", reply(429, js, `{"error":"IP_BANNED","message":"Banned","retry_after_seconds":300}`),
			wantErr{status: 429, code: "IP_BANNED", msg: "Banned", retryAfter: 300 * time.Second, retryable: true}},
		{"too many connections", reply(503, js, `{"error":"TOO_MANY_CONNECTIONS","message":"Too many connections","current":100,"max":100}`, "Retry-After", "5"),
			wantErr{status: 503, code: "TOO_MANY_CONNECTIONS", msg: "Too many connections", retryAfter: 5 * time.Second, retryable: true}},
		{"body too large", reply(413, js, `{"error":"BODY_TOO_LARGE","message":"Request body too large","size_bytes":20971520,"max_bytes":10485760}`),
			wantErr{status: 413, code: "BODY_TOO_LARGE", msg: "Request body too large"}},
		{"retry-after as a date", reply(503, js, `{"error":"TOO_MANY_CONNECTIONS","message":"m"}`, "Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)),
			wantErr{status: 503, code: "TOO_MANY_CONNECTIONS", msg: "m", retryAfter: time.Hour + time.Second, approxRetry: true, retryable: true}},
		{"plain text", reply(400, "text/plain; charset=utf-8", "Json deserialize error: missing field `sql` at line 1 column 2\nsecond line"),
			wantErr{status: 400, msg: "Json deserialize error: missing field `sql` at line 1 column 2"}},
		{"html from a proxy", reply(502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"),
			wantErr{status: 502}},
		{"html 401 from a proxy", reply(401, "text/html", "<html>Unauthorized</html>"),
			wantErr{status: 401, rejected: true}},
		{"empty 500", reply(500, "", ""), wantErr{status: 500}},
		{"json that is not an envelope", reply(500, js, `[1,2,3]`), wantErr{status: 500}},
		{"wrong types inside the envelope", reply(400, js, `{"error":{"code":7,"message":["x"]}}`), wantErr{status: 400}},
		{"error status under 200", reply(200, js, `{"status":"error","results":[],"took":0,"error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"}}`),
			wantErr{status: 200, code: "TOKEN_EXPIRED", msg: "Invalid credentials", expired: true, rejected: true}},
		{"redirect not followed", reply(307, "", "", "Location", "http://elsewhere.invalid/v1/api/sql"),
			wantErr{status: 307}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := server(t, tc.h)
			r, err := c.SQL(context.Background(), auth.NewSecret(accessA1), wire.SQLRequest{SQL: "SELECT 1"})
			if r != nil {
				t.Fatalf("response %+v with an error", r)
			}
			checkErr(t, err, tc.want)
			assertNoLeak(t, err.Error(), accessA1)
		})
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    httpapi.Error
		want string
	}{
		{httpapi.Error{Status: 401, Code: "TOKEN_EXPIRED", Message: "Invalid credentials"}, "httpapi: 401 TOKEN_EXPIRED: Invalid credentials"},
		{httpapi.Error{Status: 502}, "httpapi: 502 Bad Gateway"},
		{httpapi.Error{Status: 400, Message: "bad"}, "httpapi: 400 Bad Request: bad"},
		{httpapi.Error{Status: 599}, "httpapi: 599"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestMalformedSuccessBodies(t *testing.T) {
	for _, body := range []string{"", "not json", "<html>ok</html>", `{"status":"weird"}`, `{"status":"error"}`, `[]`, `{"status":"success","results":"x"}`} {
		c, _ := server(t, reply(200, "application/json", body))
		_, err := c.SQL(context.Background(), auth.NewSecret(accessA1), wire.SQLRequest{SQL: "SELECT 1"})
		var re *httpapi.ResponseError
		if !errors.As(err, &re) || !errors.Is(err, httpapi.ErrMalformedResponse) || re.Status != 200 {
			t.Errorf("body %q: err = %T %v", body, err, err)
		}
		if httpapi.IsRetryable(err) {
			t.Errorf("body %q: malformed response reported retryable", body)
		}
	}
}

func TestResponseCap(t *testing.T) {
	big := `{"status":"success","results":[{"rows":[["` + strings.Repeat("x", 4096) + `"]],"row_count":1,"as_user":"a"}],"took":1}`
	for _, tc := range []struct {
		name    string
		chunked bool
	}{{"content-length", false}, {"chunked", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(big)))
				}
				_, _ = io.WriteString(w, big[:10])
				if f, ok := w.(http.Flusher); ok && tc.chunked {
					f.Flush()
				}
				_, _ = io.WriteString(w, big[10:])
			}))
			defer srv.Close()
			c, err := httpapi.NewWithOptions(srv.URL, &httpapi.Options{HTTPClient: srv.Client(), MaxResponseBytes: 1024})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.SQL(context.Background(), auth.NewSecret("tok"), wire.SQLRequest{SQL: "SELECT 1"})
			var tl *httpapi.TooLargeError
			if !errors.As(err, &tl) || !errors.Is(err, httpapi.ErrResponseTooLarge) || tl.Limit != 1024 {
				t.Fatalf("err = %T %v", err, err)
			}
			// The same body under a larger cap decodes.
			c2, _ := httpapi.NewWithOptions(srv.URL, &httpapi.Options{HTTPClient: srv.Client(), MaxResponseBytes: int64(len(big))})
			if _, err := c2.SQL(context.Background(), auth.NewSecret("tok"), wire.SQLRequest{SQL: "SELECT 1"}); err != nil {
				t.Fatalf("at the limit: %v", err)
			}
		})
	}
	t.Run("huge error body is truncated, not fatal", func(t *testing.T) {
		c, _ := server(t, reply(500, "text/plain", strings.Repeat("e", 1<<20)))
		_, err := c.SQL(context.Background(), auth.NewSecret("tok"), wire.SQLRequest{SQL: "SELECT 1"})
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Status != 500 || len(he.Message) > 1024 {
			t.Fatalf("err = %v", err)
		}
	})
}

// loginBody is PROTOCOL.md §2.7's response with real tokens.
func loginBody(access, refresh string, expiresAt string) string {
	return `{"user":{"id":"alice","role":"dba","email":null,"created_at":"2026-05-01T10:00:00+00:00","updated_at":"2026-05-01T10:00:00+00:00"},` +
		`"admin_ui_access":true,"expires_at":"` + expiresAt + `","access_token":"` + access + `","refresh_token":"` + refresh +
		`","refresh_expires_at":"2026-05-12T09:00:00.123456+00:00"}`
}

func TestLogin(t *testing.T) {
	var got *http.Request
	var body []byte
	c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		got, body = r, mustRead(r.Body)
		w.Header().Set("Content-Type", "application/json")
		http.SetCookie(w, &http.Cookie{Name: "kalamdb_auth", Value: accessA1, HttpOnly: true})
		_, _ = io.WriteString(w, loginBody(accessA1, refreshR1, "2026-05-05T10:00:00.123456+00:00"))
	})
	cred, err := c.Login(context.Background(), "alice", auth.NewSecret(password))
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.URL.Path != wire.PathLogin || got.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %q", got.Method, got.URL.Path, got.Header.Get("Content-Type"))
	}
	if _, ok := got.Header["Authorization"]; ok {
		t.Error("login sent Authorization")
	}
	var lr map[string]any
	if err := json.Unmarshal(body, &lr); err != nil || len(lr) != 2 || lr["user"] != "alice" || lr["password"] != password {
		t.Errorf("login body = %s", body)
	}
	if cred.AccessToken.Reveal() != accessA1 || cred.RefreshToken.Reveal() != refreshR1 {
		t.Error("tokens not kept")
	}
	// exp − iat of A1, not expires_at − now (which is long past).
	if cred.Lifetime != time.Hour || cred.User != "alice" || cred.Role != "dba" || cred.Anonymous {
		t.Errorf("credentials = %v", cred)
	}
}

func TestLoginLifetimeFallsBackToExpiresAt(t *testing.T) {
	for _, tc := range []struct{ name, access string }{
		{"opaque token", "opaque-access-token"},
		{"jwt without exp", jwtFor(`{"sub":"alice","role":"dba"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
			c, _ := server(t, reply(200, "application/json", loginBody(tc.access, "opaque-refresh", exp)))
			cred, err := c.Login(context.Background(), "alice", auth.NewSecret(password))
			if err != nil {
				t.Fatal(err)
			}
			if cred.Lifetime <= 59*time.Minute || cred.Lifetime > time.Hour {
				t.Errorf("Lifetime = %v, want about 1h", cred.Lifetime)
			}
			if cred.User != "alice" || cred.Role != "dba" || cred.AccessToken.Reveal() != tc.access {
				t.Errorf("credentials = %v", cred)
			}
		})
	}
}

func TestLoginErrors(t *testing.T) {
	const js = "application/json"
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want wantErr
	}{
		{"wrong password", reply(401, js, `{"error":"unauthorized","message":"Invalid credentials"}`),
			wantErr{status: 401, code: "unauthorized", msg: "Invalid credentials", rejected: true}},
		{"locked", reply(401, js, `{"error":"account_locked","message":"15 minute(s)"}`),
			wantErr{status: 401, code: "account_locked", msg: "15 minute(s)", rejected: true}},
		{"forbidden", reply(403, js, `{"error":"forbidden","message":"Remote login denied"}`),
			wantErr{status: 403, code: "forbidden", msg: "Remote login denied"}},
		{"setup required", reply(428, js, `{"error":"setup_required","message":"Set a root password"}`),
			wantErr{status: 428, code: "setup_required", msg: "Set a root password"}},
		{"rate limited", reply(429, js, `{"error":"rate_limited","message":"Too many authentication attempts. Please retry shortly."}`),
			wantErr{status: 429, code: "rate_limited", msg: "Too many authentication attempts. Please retry shortly.", retryable: true}},
		{"serde text echoing the password", reply(400, "text/plain", "Json deserialize error: invalid value: string \""+password+"\", expected shorter"),
			wantErr{status: 400, msg: "Json deserialize error: invalid value: string \"[REDACTED]\", expected shorter"}},
		{"json echoing the password", reply(401, js, `{"error":"unauthorized","message":"bad password `+password+`"}`),
			wantErr{status: 401, code: "unauthorized", msg: "bad password [REDACTED]", rejected: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := server(t, tc.h)
			cred, err := c.Login(context.Background(), "alice", auth.NewSecret(password))
			if cred.Usable() {
				t.Error("usable credentials with an error")
			}
			checkErr(t, err, tc.want)
			assertNoLeak(t, fmt.Sprintf("%v %+v %#v", err, err, err), password)
		})
	}
	for _, body := range []string{"garbage " + accessA1, `{"access_token":7}`, `{"user":{"id":"alice"}}`, `{"access_token":"` + accessA1 + `","expires_at":"not a time"}`} {
		c, _ := server(t, reply(200, "application/json", body))
		_, err := c.Login(context.Background(), "alice", auth.NewSecret(password))
		if !errors.Is(err, httpapi.ErrMalformedResponse) {
			t.Errorf("body %q: err = %v", body, err)
		}
		assertNoLeak(t, fmt.Sprintf("%v %+v", err, err), accessA1, password)
	}
}

func TestRefresh(t *testing.T) {
	var got *http.Request
	var body []byte
	c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		got, body = r, mustRead(r.Body)
		_, _ = io.WriteString(w, loginBody(accessA1, refreshR1, "2026-05-05T10:55:00+00:00"))
	})
	cred, err := c.Refresh(context.Background(), auth.NewSecret(refreshR1))
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.URL.Path != wire.PathRefresh || len(body) != 0 {
		t.Errorf("request %s %s body %q", got.Method, got.URL.Path, body)
	}
	if h := got.Header.Get("Authorization"); h != "Bearer "+refreshR1 {
		t.Errorf("Authorization = %q", h)
	}
	if cred.AccessToken.Reveal() != accessA1 || cred.RefreshToken.Reveal() != refreshR1 || cred.Lifetime != time.Hour {
		t.Errorf("credentials = %v", cred)
	}

	c, _ = server(t, reply(401, "application/json", `{"error":"unauthorized","message":"Refresh endpoint requires a refresh token"}`))
	_, err = c.Refresh(context.Background(), auth.NewSecret(accessA1))
	checkErr(t, err, wantErr{status: 401, code: "unauthorized", msg: "Refresh endpoint requires a refresh token", rejected: true})

	calls := 0
	c, _ = server(t, func(http.ResponseWriter, *http.Request) { calls++ })
	if _, err := c.Refresh(context.Background(), auth.Secret{}); !errors.Is(err, auth.ErrNoCredentials) || calls != 0 {
		t.Errorf("zero refresh token: err = %v, calls = %d", err, calls)
	}
}

// TestBasicProviderOverHTTP runs auth.Basic against the client: a refused
// refresh token falls back to a login.
func TestBasicProviderOverHTTP(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == wire.PathRefresh {
			reply(401, "application/json", `{"error":"unauthorized","message":"Invalid credentials"}`)(w, r)
			return
		}
		_, _ = io.WriteString(w, loginBody(accessA1, refreshR1, "2026-05-05T10:00:00+00:00"))
	})
	current := auth.Credentials{AccessToken: auth.NewSecret("old-access"), RefreshToken: auth.NewSecret("old-refresh")}
	cred, err := auth.Basic("alice", password).Credentials(context.Background(),
		auth.Request{Reason: auth.ReasonRejected, Current: current, Endpoint: c})
	if err != nil {
		t.Fatal(err)
	}
	if cred.AccessToken.Reveal() != accessA1 || strings.Join(paths, ",") != wire.PathRefresh+","+wire.PathLogin {
		t.Errorf("cred %v after %v", cred, paths)
	}
}

func TestMeAndHealth(t *testing.T) {
	var meAuth string
	c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case wire.PathMe:
			meAuth = r.Header.Get("Authorization")
			_, _ = io.WriteString(w, `{"user":{"id":"alice","role":"dba","email":null,"created_at":"x","updated_at":"y"},"admin_ui_access":true}`)
		case wire.PathHealth:
			_, _ = io.WriteString(w, `{"status":"healthy","version":"0.4.0","api_version":"v1","build_date":"2026-05-01"}`)
		}
	})
	me, err := c.Me(context.Background(), auth.NewSecret(accessA1))
	if err != nil || me.User.ID != "alice" || me.User.Role != "dba" || !me.AdminUIAccess || meAuth != "Bearer "+accessA1 {
		t.Errorf("Me = %+v, %v (auth %q)", me, err, meAuth)
	}
	h, err := c.Health(context.Background())
	if err != nil || h.Status != "healthy" || h.APIVersion != "v1" {
		t.Errorf("Health = %+v, %v", h, err)
	}

	c, _ = server(t, reply(403, "application/json", `{"error":"Access denied. Health endpoint is localhost-only."}`))
	_, err = c.Health(context.Background())
	checkErr(t, err, wantErr{status: 403, code: "Access denied. Health endpoint is localhost-only."})
	_, err = c.Me(context.Background(), auth.NewSecret(accessA1))
	checkErr(t, err, wantErr{status: 403, code: "Access denied. Health endpoint is localhost-only."})

	c, _ = server(t, reply(200, "application/json", `{}`))
	if _, err := c.Health(context.Background()); !errors.Is(err, httpapi.ErrMalformedResponse) {
		t.Errorf("empty health: %v", err)
	}
	if _, err := c.Me(context.Background(), auth.NewSecret("t")); !errors.Is(err, httpapi.ErrMalformedResponse) {
		t.Errorf("empty me: %v", err)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, _ := httpapi.New("http://"+addr, nil)
		_, err = c.SQL(context.Background(), auth.NewSecret(accessA1), wire.SQLRequest{SQL: "SELECT '" + password + "'"})
		var te *httpapi.TransportError
		if !errors.As(err, &te) || !httpapi.IsRetryable(err) || te.Path != wire.PathSQL {
			t.Fatalf("err = %T %v", err, err)
		}
		assertNoLeak(t, err.Error(), accessA1, password)
	})
	t.Run("connection cut mid-body", func(t *testing.T) {
		c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, `{"status":"success","results":[`)
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		_, err := c.SQL(context.Background(), auth.NewSecret(accessA1), wire.SQLRequest{SQL: "SELECT 1"})
		var te *httpapi.TransportError
		if !errors.As(err, &te) || !httpapi.IsRetryable(err) {
			t.Fatalf("err = %T %v", err, err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		release := make(chan struct{})
		c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := c.SQL(ctx, auth.NewSecret(accessA1), wire.SQLRequest{SQL: "SELECT 1"})
			errc <- err
		}()
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) || httpapi.IsRetryable(err) {
			t.Fatalf("err = %T %v, retryable %v", err, err, httpapi.IsRetryable(err))
		}
	})
	t.Run("deadline", func(t *testing.T) {
		c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // the server notices the hang-up only after the body
			<-r.Context().Done()
		})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := c.Login(ctx, "alice", auth.NewSecret(password))
		if !errors.Is(err, context.DeadlineExceeded) || httpapi.IsRetryable(err) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestTokenThatCannotBeAHeader(t *testing.T) {
	calls := 0
	c, _ := server(t, func(http.ResponseWriter, *http.Request) { calls++ })
	for _, tok := range []string{"abc\r\nX-Injected: 1", "two words", "tab\there", "ünicode"} {
		_, err := c.SQL(context.Background(), auth.NewSecret(tok), wire.SQLRequest{SQL: "SELECT 1"})
		if !errors.Is(err, auth.ErrMalformedToken) {
			t.Errorf("%q: err = %v", tok, err)
		}
		assertNoLeak(t, err.Error(), tok)
	}
	if calls != 0 {
		t.Errorf("%d requests sent", calls)
	}
}

func TestUnencodableRequest(t *testing.T) {
	c, _ := server(t, reply(200, "application/json", sqlStreamed))
	for _, p := range []any{math.NaN(), math.Inf(1), make(chan int), func() {}} {
		_, err := c.SQL(context.Background(), auth.NewSecret("t"), wire.SQLRequest{SQL: "SELECT $1", Params: []any{p}})
		if err == nil || strings.Contains(err.Error(), "NaN") || strings.Contains(err.Error(), "Inf") {
			t.Errorf("param %T: err = %v", p, err)
		}
	}
}

// TestNoSecretInAnyError makes the server echo every secret it was sent, in
// every field of the SQL envelope, and checks the client's errors. (The
// statement text is the caller's own and may come back in a server message;
// the client never adds it.)
func TestNoSecretInAnyError(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) {
		all := r.Header.Get("Authorization") + " " + string(mustRead(r.Body))
		quoted, _ := json.Marshal(all)
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"status":"error","results":[],"took":1,"error":{"code":%s,"message":%s,"details":%s}}`, quoted, quoted, quoted)
	}
	c, _ := server(t, echo)
	secrets := []string{accessA1, refreshR1, password}
	var errs []error
	_, err := c.Login(context.Background(), "alice", auth.NewSecret(password))
	errs = append(errs, err)
	_, err = c.Refresh(context.Background(), auth.NewSecret(refreshR1))
	errs = append(errs, err)
	_, err = c.Me(context.Background(), auth.NewSecret(accessA1))
	errs = append(errs, err)
	_, err = c.SQL(context.Background(), auth.NewSecret(accessA1), wire.SQLRequest{SQL: "SELECT 1"})
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d: no error", i)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			assertNoLeak(t, fmt.Sprintf(verb, err), secrets...)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, sqlStreamed)
	})
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			if _, err := c.SQL(context.Background(), auth.NewSecret(accessA1), wire.SQLRequest{SQL: "SELECT 1"}); err != nil {
				errc <- err
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func mustRead(r io.Reader) []byte {
	b, _ := io.ReadAll(r)
	return b
}

// assertNoLeak fails when s holds any secret or a JWT segment of one.
func assertNoLeak(t testing.TB, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		if strings.Contains(s, sec) {
			t.Errorf("text leaks a secret: %q", s)
			return
		}
		for _, part := range strings.Split(sec, ".") {
			if len(part) >= 12 && strings.Contains(s, part) {
				t.Errorf("text leaks part of a secret: %q", s)
				return
			}
		}
	}
}
