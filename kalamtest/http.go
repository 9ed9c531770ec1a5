package kalamtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/kalamgo/kalam/kalamtest/internal/store"
	"github.com/kalamgo/kalam/transport/wire"
)

// Body limits: KalamDB's protection middleware caps every body at 10 MiB,
// actix's JSON extractor at 2 MiB.
const (
	maxRequestBody = 10 << 20
	maxJSONBody    = 2 << 20
)

// Version is what /health reports as the server version.
const Version = "kalamtest-0.1.0"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+wire.PathHealth, s.handleHealth)
	mux.HandleFunc("GET "+wire.PathHealthcheck, s.handleHealth)
	mux.HandleFunc("POST "+wire.PathSQL, s.handleSQL)
	mux.HandleFunc("POST "+wire.PathLogin, s.handleLogin)
	mux.HandleFunc("POST "+wire.PathRefresh, s.handleRefresh)
	mux.HandleFunc("POST "+wire.PathLogout, s.handleLogout)
	mux.HandleFunc("GET "+wire.PathMe, s.handleMe)
	mux.HandleFunc("POST "+wire.PathSetup, s.handleSetup)
	mux.HandleFunc("GET "+wire.PathAuthStatus, s.handleAuthStatus)
	mux.HandleFunc("GET "+wire.PathWS, s.handleWS)
	if !s.cfg.DisableAdmin {
		mux.Handle(adminPrefix, s.adminRoutes())
	}
	return s.recoverPanics(s.limitBody(mux))
}

// limitBody is the body-size part of KalamDB's protection middleware.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxRequestBody {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{
				"error":      "BODY_TOO_LARGE",
				"message":    "Request body too large",
				"size_bytes": r.ContentLength,
				"max_bytes":  maxRequestBody,
			})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if !isLoopback(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "Access denied. Health endpoint is localhost-only."})
		return
	}
	if err := s.db.Check(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, wire.HealthResponse{Status: "healthy", Version: Version, APIVersion: "v1", BuildDate: buildDate()})
}

func buildDate() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, st := range bi.Settings {
			if st.Key == "vcs.time" {
				return st.Value
			}
		}
	}
	return "unknown"
}

// isLoopback reports whether the peer is 127.0.0.1/::1. Forwarding headers
// make the request non-local: either they name a remote client, or they
// claim localhost, which KalamDB refuses as spoofing.
func isLoopback(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Real-IP") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sqlRequest is the JSON body of /v1/api/sql, with presence kept.
type sqlRequest struct {
	SQL         *string `json:"sql"`
	Params      []any   `json:"params"`
	NamespaceID *string `json:"namespace_id"`
}

func (s *Server) handleSQL(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	u, ok := s.bearerAuth(w, r, start)
	if !ok {
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case strings.EqualFold(mt, "multipart/form-data"):
		writeSQLError(w, http.StatusBadRequest, wire.CodeInvalidInput, "multipart/form-data (FILE uploads) is not supported by kalamtest", "", start)
		return
	case !isJSONType(mt):
		writeSQLError(w, http.StatusBadRequest, wire.CodeInvalidInput, "Invalid JSON payload: Content type error", "", start)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		writeSQLError(w, http.StatusBadRequest, wire.CodeInvalidInput, "Invalid JSON payload: "+bodyReadError(err), "", start)
		return
	}
	if len(body) > maxJSONBody {
		writeSQLError(w, http.StatusBadRequest, wire.CodeInvalidInput,
			"Invalid JSON payload: JSON payload is larger than allowed (limit: "+strconv.Itoa(maxJSONBody)+" bytes)", "", start)
		return
	}
	var req sqlRequest
	if reason := decodeStrict(body, &req, false); reason != "" {
		writeSQLError(w, http.StatusBadRequest, wire.CodeInvalidInput, "Invalid JSON payload: "+reason, "", start)
		return
	}
	if req.SQL == nil {
		writeSQLError(w, http.StatusBadRequest, wire.CodeInvalidInput, "Invalid JSON payload: missing field `sql`", "", start)
		return
	}
	ns := "default"
	if req.NamespaceID != nil && *req.NamespaceID != "" {
		ns = *req.NamespaceID
	}
	res, err := s.db.Exec(r.Context(), store.Session{User: u.ID, Role: u.Role, Namespace: ns}, *req.SQL, req.Params)
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) {
			writeSQLError(w, se.Status, se.Code, se.Message, se.Details, start)
			return
		}
		s.log.Warn("kalamtest: sql request failed", "err", err)
		writeSQLError(w, http.StatusInternalServerError, wire.CodeInternalError, "SQL request failed", "", start)
		return
	}
	if res.Streamed && len(res.Results) == 1 {
		writeStreamed(w, res.Results[0], start)
		return
	}
	results := res.Results
	if results == nil {
		results = []wire.QueryResult{}
	}
	writeJSON(w, http.StatusOK, wire.SQLResponse{Status: wire.StatusSuccess, Results: results, Took: took(start)})
}

// streamedResult is a result in the streamed layout: schema and rows are
// always present, message never is.
type streamedResult struct {
	Schema   []wire.SchemaField  `json:"schema"`
	Rows     [][]json.RawMessage `json:"rows"`
	RowCount int64               `json:"row_count"`
	AsUser   string              `json:"as_user"`
}

// writeStreamed sends a single row-returning result the way KalamDB streams
// it: chunked, with "error":null at the end.
func writeStreamed(w http.ResponseWriter, res wire.QueryResult, start time.Time) {
	sr := streamedResult{Schema: res.Schema, Rows: res.Rows, RowCount: res.RowCount, AsUser: res.AsUser}
	if sr.Schema == nil {
		sr.Schema = []wire.SchemaField{}
	}
	if sr.Rows == nil {
		sr.Rows = [][]json.RawMessage{}
	}
	b, err := json.Marshal(sr)
	if err != nil {
		writeSQLError(w, http.StatusInternalServerError, wire.CodeInternalError, "SQL request failed", "", start)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"status":"success","results":[`)
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // commits the chunked encoding, as KalamDB's stream does
	}
	_, _ = w.Write(b)
	_, _ = io.WriteString(w, `],"took":`+strconv.FormatFloat(took(start), 'f', -1, 64)+`,"error":null}`)
}

// bearerAuth is KalamDB's AuthSessionExtractor (§2.2, §2.6). On failure it
// writes the SQL envelope and returns false.
func (s *Server) bearerAuth(w http.ResponseWriter, r *http.Request, start time.Time) (store.UserInfo, bool) {
	vals, present := r.Header["Authorization"]
	if !present || len(vals) == 0 {
		writeSQLError(w, http.StatusUnauthorized, wire.CodeMissingAuthorization, "Authentication required", "", start)
		return store.UserInfo{}, false
	}
	h := vals[0]
	token, isBearer := strings.CutPrefix(h, "Bearer")
	token = strings.TrimSpace(token)
	if len(h) >= 6 && strings.EqualFold(h[:6], "basic ") || !isBearer || token == "" {
		s.log.Info("kalamtest: refused an authorization header that is not Bearer", "path", r.URL.Path)
		writeSQLError(w, http.StatusUnauthorized, wire.CodeInvalidCredentials, msgInvalidCredentials, "", start)
		return store.UserInfo{}, false
	}
	u, err := s.checkToken(token, tokenTypeAccess)
	if err != nil {
		s.log.Info("kalamtest: refused a bearer token", "path", r.URL.Path, "reason", reasonOf(err))
		code := wire.CodeInvalidCredentials
		if faultOf(err) == faultExpired {
			code = wire.CodeTokenExpired
		}
		writeSQLError(w, http.StatusUnauthorized, code, msgInvalidCredentials, "", start)
		return store.UserInfo{}, false
	}
	return u, true
}

// checkToken validates a token of the given type for a live user whose role
// matches (§3.2 steps 4–6).
func (s *Server) checkToken(raw, typ string) (store.UserInfo, error) {
	c, err := s.tok.parse(raw)
	if err != nil {
		return store.UserInfo{}, err
	}
	if c.TokenType != typ {
		return store.UserInfo{}, &tokenFault{kind: faultWrongType, reason: "token_type is not " + typ}
	}
	u, ok := s.db.LookupUser(c.Sub)
	if !ok {
		return store.UserInfo{}, &tokenFault{kind: faultNoUser, reason: "unknown user"}
	}
	if c.Role != "" && c.Role != u.Role {
		return store.UserInfo{}, &tokenFault{kind: faultRole, reason: "role claim does not match the user's role"}
	}
	return u, nil
}

// writeSQLError writes the SQL error envelope (§2.4 shape 1).
func writeSQLError(w http.ResponseWriter, status int, code, msg, details string, start time.Time) {
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, wire.SQLResponse{
		Status:  wire.StatusError,
		Results: []wire.QueryResult{},
		Took:    took(start),
		Error:   &wire.ErrorBody{Code: code, Message: msg, Details: details},
	})
}

// took is the elapsed time in milliseconds, rounded to 3 decimals.
func took(start time.Time) float64 {
	ms := float64(time.Since(start).Nanoseconds()) / 1e6
	return math.Round(ms*1000) / 1000
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeText is for actix's plain-text extractor failures.
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

func isJSONType(mt string) bool {
	mt = strings.ToLower(mt)
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// decodeStrict decodes one JSON object into v, numbers as json.Number, and
// returns a reason on failure that never quotes the input.
func decodeStrict(body []byte, v any, denyUnknown bool) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if denyUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonReason(err)
	}
	if dec.More() {
		return "trailing characters"
	}
	return ""
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "EOF while parsing a value"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF while parsing an object"
	case errors.As(err, &se):
		return "invalid JSON at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		if te.Field != "" {
			return "invalid type: " + te.Value + ", field `" + short(te.Field) + "`"
		}
		return "invalid type: " + te.Value
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + short(strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return "invalid JSON"
	}
}

func bodyReadError(err error) string {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "payload too large"
	}
	return "cannot read the body"
}
