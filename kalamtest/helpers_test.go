package kalamtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestMain fails the run when goroutines outlive the tests.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if n, stacks := settleGoroutines(before, 5*time.Second); n > before {
			fmt.Fprintf(os.Stderr, "goroutine leak: %d before the tests, %d after\n%s\n", before, n, stacks)
			code = 1
		}
	}
	os.Exit(code)
}

// settleGoroutines polls until at most want goroutines run or d passes.
func settleGoroutines(want int, d time.Duration) (int, []byte) {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			if n <= want {
				return n, nil
			}
			buf := make([]byte, 1<<20)
			return n, buf[:runtime.Stack(buf, true)]
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const (
	testSecret = "kalamtest-unit-test-secret-0123456789"
	alicePW    = "alice-Secret-1!"
	bobPW      = "bob-Secret-1!"
	danaPW     = "dana-Secret-1!"
	rootPW     = "root-Secret-1!"
	waitFor    = 10 * time.Second
)

// startServer starts a server with alice and bob (role user), dana (dba),
// namespace app and the USER table app.orders(id BIGINT PK, status TEXT).
func startServer(t testing.TB, mut func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		RootPassword:      rootPW,
		JWTSecret:         testSecret,
		HeartbeatInterval: 20 * time.Millisecond,
		Users: []User{
			{Name: "alice", Password: alicePW},
			{Name: "bob", Password: bobPW, Role: "user"},
			{Name: "dana", Password: danaPW, Role: "dba"},
		},
	}
	if mut != nil {
		mut(&cfg)
	}
	srv := NewServer(t, cfg)
	mustExec(t, srv, "root", "CREATE NAMESPACE app")
	mustExec(t, srv, "root", "CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT)")
	return srv
}

func mustExec(t testing.TB, srv *Server, user, sql string, params ...any) Result {
	t.Helper()
	r, err := srv.Exec(context.Background(), user, sql, params...)
	if err != nil {
		t.Fatalf("Exec(%q): %v", sql, err)
	}
	return r
}

// insertOrders inserts rows id..id+n-1 with status "open" as alice.
func insertOrders(t testing.TB, srv *Server, from, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("INSERT INTO app.orders (id, status) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d, 'open')", from+i)
	}
	mustExec(t, srv, "alice", b.String())
}

// client is a raw HTTP client for one test.
type client struct {
	t   testing.TB
	srv *Server
	hc  *http.Client
}

func newClient(t testing.TB, srv *Server) *client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, srv: srv, hc: &http.Client{Transport: tr, Timeout: waitFor}}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map, numbers as json.Number.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	m, ok := decodeJSON(t, r.Body).(map[string]any)
	if !ok {
		t.Fatalf("body is not a JSON object: %s", r.Body)
	}
	return m
}

func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return v
}

// request sends a request; headers are name, value pairs.
func (c *client) request(method, path, body string, headers ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (c *client) postJSON(path string, body any, headers ...string) response {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.request(http.MethodPost, path, string(b), append([]string{"Content-Type", "application/json"}, headers...)...)
}

func (c *client) sql(token, sql string, params ...any) response {
	c.t.Helper()
	body := map[string]any{"sql": sql}
	if params != nil {
		body["params"] = params
	}
	return c.postJSON("/v1/api/sql", body, "Authorization", "Bearer "+token)
}

func (c *client) login(user, pw string) (access, refresh string) {
	c.t.Helper()
	r := c.postJSON("/v1/api/auth/login", map[string]string{"user": user, "password": pw})
	if r.Status != http.StatusOK {
		c.t.Fatalf("login %s: %d %s", user, r.Status, r.Body)
	}
	m := r.JSON(c.t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

// healthy checks that the server still answers, after a misbehaving
// client did its worst.
func (c *client) healthy() {
	c.t.Helper()
	if r := c.request(http.MethodGet, "/health", ""); r.Status != http.StatusOK {
		c.t.Fatalf("server down: /health answered %d %s", r.Status, r.Body)
	}
}

// sqlError checks an SQL error envelope and returns error.code.
func sqlError(t testing.TB, r response, status int) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	if got := keys(m); got != "error,results,status,took" {
		t.Fatalf("error envelope keys %s; body %s", got, r.Body)
	}
	if m["status"] != "error" || !reflect.DeepEqual(m["results"], []any{}) {
		t.Fatalf("error envelope %s", r.Body)
	}
	if _, err := m["took"].(json.Number).Float64(); err != nil {
		t.Fatalf("took is not a number: %s", r.Body)
	}
	e := m["error"].(map[string]any)
	return e["code"].(string)
}

// keys lists a map's keys, sorted and comma-joined.
func keys(m map[string]any) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// wantJSON compares JSON texts structurally.
func wantJSON(t testing.TB, got []byte, want string) {
	t.Helper()
	g, w := decodeJSON(t, got), decodeJSON(t, []byte(want))
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON mismatch\n got: %s\nwant: %s", got, want)
	}
}

// wsClient is a raw WebSocket client.
type wsClient struct {
	t testing.TB
	c *websocket.Conn
}

type dialOpts struct {
	query  string
	header http.Header
}

func dialWS(t testing.TB, srv *Server, o dialOpts) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.WSURL()+o.query, &websocket.DialOptions{HTTPHeader: o.header})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &wsClient{t: t, c: c}
}

// login dials and authenticates as user with the message path.
func loginWS(t testing.TB, srv *Server, cl *client, user, pw string, o dialOpts) *wsClient {
	t.Helper()
	access, _ := cl.login(user, pw)
	w := dialWS(t, srv, o)
	w.send(map[string]any{"type": "authenticate", "method": "jwt", "token": access,
		"protocol": map[string]string{"serialization": "json", "compression": "gzip"}})
	w.nextType("auth_success")
	return w
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	w.sendText(string(b))
}

func (w *wsClient) sendText(s string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

type frame struct {
	binary  bool
	raw     []byte // as received
	payload []byte // gunzipped when binary
	msg     map[string]any
}

// read returns the next data frame, or the read error.
func (w *wsClient) read(d time.Duration) (frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	f := frame{binary: typ == websocket.MessageBinary, raw: b, payload: b}
	if f.binary {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return f, fmt.Errorf("binary frame is not gzip: %w", err)
		}
		if f.payload, err = io.ReadAll(zr); err != nil {
			return f, err
		}
	}
	m, ok := decodeJSON(w.t, f.payload).(map[string]any)
	if !ok {
		return f, fmt.Errorf("frame is not a JSON object: %s", f.payload)
	}
	f.msg = m
	return f, nil
}

func (w *wsClient) nextFrame() frame {
	w.t.Helper()
	f, err := w.read(waitFor)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return f
}

func (w *wsClient) next() map[string]any {
	w.t.Helper()
	return w.nextFrame().msg
}

func (w *wsClient) nextType(typ string) map[string]any {
	w.t.Helper()
	m := w.next()
	if m["type"] != typ {
		w.t.Fatalf("got message %v, want type %q", m, typ)
	}
	return m
}

// expectClose reads until the server closes and returns code and reason.
// Data frames before the close fail the test unless allowData.
func (w *wsClient) expectClose(allowData bool) (websocket.StatusCode, string) {
	w.t.Helper()
	for {
		f, err := w.read(waitFor)
		if err == nil {
			if !allowData {
				w.t.Fatalf("got %s, want a close", f.payload)
			}
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		if errors.Is(err, context.DeadlineExceeded) {
			w.t.Fatalf("no close within %v", waitFor)
		}
		return -1, ""
	}
}

// subscribe sends a subscribe message; nil opts leaves "options" out.
func (w *wsClient) subscribe(id, sql string, opts map[string]any) {
	w.t.Helper()
	sub := map[string]any{"id": id, "sql": sql}
	if opts != nil {
		sub["options"] = opts
	}
	w.send(map[string]any{"type": "subscribe", "subscription": sub})
}

func (w *wsClient) nextBatch(id string, last any) {
	w.t.Helper()
	m := map[string]any{"type": "next_batch", "subscription_id": id}
	if last != nil {
		m["last_seq_id"] = last
	}
	w.send(m)
}

// rows returns the rows of a message as maps.
func rows(t testing.TB, m map[string]any, key string) []map[string]any {
	t.Helper()
	list, ok := m[key].([]any)
	if !ok {
		t.Fatalf("message has no %q list: %v", key, m)
	}
	out := make([]map[string]any, len(list))
	for i, r := range list {
		out[i] = r.(map[string]any)
	}
	return out
}

// seqOf parses a row's _seq cell, which must be a decimal string.
func seqOf(t testing.TB, row map[string]any) int64 {
	t.Helper()
	s, ok := row["_seq"].(string)
	if !ok {
		t.Fatalf("_seq is not a string: %v", row)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ids returns the id cells of rows.
func ids(rs []map[string]any) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i], _ = r["id"].(string)
	}
	return out
}

// control returns batch_control with last_seq_id as a string ("" = null).
func control(t testing.TB, m map[string]any) (batchNum string, hasMore bool, status, last string) {
	t.Helper()
	bc, ok := m["batch_control"].(map[string]any)
	if !ok {
		t.Fatalf("no batch_control in %v", m)
	}
	if got := keys(bc); got != "batch_num,has_more,last_seq_id,status" {
		t.Fatalf("batch_control keys %s", got)
	}
	if bc["last_seq_id"] != nil {
		n, ok := bc["last_seq_id"].(json.Number)
		if !ok {
			t.Fatalf("last_seq_id is not a JSON number: %v", bc)
		}
		last = n.String()
	}
	return bc["batch_num"].(json.Number).String(), bc["has_more"].(bool), bc["status"].(string), last
}

func strSeq(v int64) string { return strconv.FormatInt(v, 10) }

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func jsonNumber(s string) json.Number { return json.Number(s) }
