//go:build !js

package kalam_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/e2etest"
	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/transport/wire"
)

// fakeJWT is an unsigned-looking token with the given expiry; the client
// reads its claims for scheduling only, and the scripted server below does
// not check it.
func fakeJWT(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc(fmt.Appendf(nil, `{"sub":"alice","role":"user","iat":%d,"exp":%d}`, time.Now().Unix(), exp.Unix()))
	return header + "." + claims + "." + enc([]byte("not-a-signature"))
}

// scripted is a tiny KalamDB look-alike over httptest whose WebSocket
// answers authenticate and subscribe correctly and then sends what a test
// scripts: the way to put any frame, however wrong, in front of a real
// client.
type scripted struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	froms []*int64 // options.from of every subscribe, in order
	conns atomic.Int32

	// afterSubscribe runs (on its own goroutine) once connection n has
	// acknowledged a subscription; send writes one frame.
	afterSubscribe func(n int, sub string, send func(websocket.MessageType, []byte) error)
	// sql answers POST /v1/api/sql; nil means 404.
	sql http.HandlerFunc
	// tls serves HTTPS with httptest's self-signed certificate.
	tls bool
}

func newScripted(t *testing.T, s *scripted) *scripted {
	s.t = t
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ws", s.ws)
	mux.HandleFunc("POST /v1/api/sql", func(w http.ResponseWriter, r *http.Request) {
		if s.sql == nil {
			http.NotFound(w, r)
			return
		}
		s.sql(w, r)
	})
	if s.tls {
		s.srv = httptest.NewTLSServer(mux)
	} else {
		s.srv = httptest.NewServer(mux)
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scripted) subscribeFroms() []*int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*int64(nil), s.froms...)
}

func (s *scripted) ws(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	n := int(s.conns.Add(1))
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var wmu sync.Mutex
	send := func(typ websocket.MessageType, data []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return c.Write(ctx, typ, data)
	}
	var scripts sync.WaitGroup
	defer scripts.Wait()
	defer cancel()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Type         string `json:"type"`
			Subscription struct {
				ID      string `json:"id"`
				Options *struct {
					From *int64 `json:"from"`
				} `json:"options"`
			} `json:"subscription"`
		}
		if json.Unmarshal(data, &m) != nil {
			return
		}
		switch m.Type {
		case "authenticate":
			send(websocket.MessageText, []byte(`{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`))
		case "subscribe":
			var from *int64
			if m.Subscription.Options != nil {
				from = m.Subscription.Options.From
			}
			s.mu.Lock()
			s.froms = append(s.froms, from)
			s.mu.Unlock()
			id := m.Subscription.ID
			send(websocket.MessageText, fmt.Appendf(nil, `{"type":"subscription_ack","subscription_id":%q,"total_rows":0,"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"_seq","data_type":"BigInt","index":1}]}`, id))
			send(websocket.MessageText, fmt.Appendf(nil, `{"type":"initial_data_batch","subscription_id":%q,"rows":[],"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null}}`, id))
			if s.afterSubscribe != nil {
				scripts.Add(1)
				go func() {
					defer scripts.Done()
					s.afterSubscribe(n, id, send)
				}()
			}
		}
	}
}

// insertFrame is a change notification adding row id at seq.
func insertFrame(sub string, id int, seq string) []byte {
	return fmt.Appendf(nil, `{"type":"change","subscription_id":%q,"change_type":"insert","rows":[{"id":"%d","_seq":%s}]}`, sub, id, seq)
}

// gzipBomb is one gzip member that inflates to size zero bytes, built from
// a repeated deflate segment so that making it costs little.
func gzipBomb(size int) []byte {
	const seg = 1 << 20
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestCompression)
	zero := make([]byte, seg)
	zw.Write(zero)
	zw.Flush()
	first := bytes.Clone(buf.Bytes())
	buf.Reset()
	zw.Write(zero)
	zw.Flush()
	steady := bytes.Clone(buf.Bytes()) // identical for every later megabyte of zeros
	out := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	out = append(out, first...)
	crc := crc32.ChecksumIEEE(zero)
	for range size/seg - 1 {
		out = append(out, steady...)
		crc = crc32.Update(crc, crc32.IEEETable, zero)
	}
	out = append(out, 0x01, 0x00, 0x00, 0xff, 0xff) // final empty stored block
	out = binary.LittleEndian.AppendUint32(out, crc)
	out = binary.LittleEndian.AppendUint32(out, uint32(size))
	return out
}

// badClient is a client of the scripted server with fast timings that
// records what it reports.
type badClient struct {
	*kalam.Client
	mu       sync.Mutex
	errs     []error
	conns    []kalam.ConnectionEvent
	connects atomic.Int32
}

func (b *badClient) problems() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]error(nil), b.errs...)
	for _, ev := range b.conns {
		if ev.Err != nil {
			out = append(out, ev.Err)
		}
	}
	return out
}

func newBadClient(t *testing.T, url string, mod func(*kalam.Config)) *badClient {
	t.Helper()
	b := &badClient{}
	cfg := kalam.Config{
		URL:          url,
		Auth:         auth.JWT(fakeJWT(time.Now().Add(time.Hour))),
		Namespace:    "app",
		BackoffMin:   20 * time.Millisecond,
		BackoffMax:   200 * time.Millisecond,
		PingInterval: 500 * time.Millisecond,
		PongTimeout:  2 * time.Second,
		Seed:         1,
		OnError: func(err error, _ bool) {
			b.mu.Lock()
			b.errs = append(b.errs, err)
			b.mu.Unlock()
		},
		OnConnection: func(ev kalam.ConnectionEvent) {
			b.mu.Lock()
			b.conns = append(b.conns, ev)
			b.mu.Unlock()
			if ev.Connected {
				b.connects.Add(1)
			}
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := kalam.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b.Client = c
	return b
}

// TestBadServerFrames sends every class of malformed frame after one good
// row and checks that the client reports a typed problem, never panics,
// loses nothing it delivered, and recovers: after a reconnect the
// subscription resumes from the good row and the next row arrives once.
func TestBadServerFrames(t *testing.T) {
	huge := strings.Repeat("x", int(wire.DefaultMaxFrame)+1)
	bomb := gzipBomb(1 << 30)
	cases := []struct {
		name  string
		frame func(sub string) (websocket.MessageType, []byte)
		// check inspects the problems the client reported.
		check frameCheck
		// first sends the bad frame before any good row.
		first bool
		// bounded is the most the client may allocate handling the frame.
		bounded uint64
	}{
		{name: "malformed JSON", frame: func(sub string) (websocket.MessageType, []byte) {
			return websocket.MessageText, []byte(`{"type":"change","subscription_id":`)
		}, check: wantProtocol},
		{name: "unknown type", frame: func(sub string) (websocket.MessageType, []byte) {
			return websocket.MessageText, fmt.Appendf(nil, `{"type":"telepathy","subscription_id":%q}`, sub)
		}, check: wantErr(kalam.ErrProtocol, wire.ErrUnknownType)},
		{name: "huge frame", frame: func(sub string) (websocket.MessageType, []byte) {
			return websocket.MessageText, []byte(`{"type":"change","note":"` + huge + `"}`)
		}, check: wantTooLarge, bounded: 128 << 20},
		{name: "gzip bomb", frame: func(sub string) (websocket.MessageType, []byte) {
			return websocket.MessageBinary, bomb
		}, check: wantProtocol, bounded: 256 << 20},
		{name: "seq as float", frame: func(sub string) (websocket.MessageType, []byte) {
			return websocket.MessageText, insertFrame(sub, 99, `150.5`)
		}, check: wantProtocol},
		{name: "seq as float string", frame: func(sub string) (websocket.MessageType, []byte) {
			return websocket.MessageText, insertFrame(sub, 99, `"150.5"`)
		}, check: wantProtocol},
		{name: "seq negative", frame: func(sub string) (websocket.MessageType, []byte) {
			return websocket.MessageText, insertFrame(sub, 99, `"-150"`)
		}, check: wantProtocol},
		{name: "seq negative first", first: true, frame: func(sub string) (websocket.MessageType, []byte) {
			return websocket.MessageText, insertFrame(sub, 99, `"-150"`)
		}, check: wantProtocol},
		// A change at or below the position is dropped as a repeat, without
		// a problem: KalamDB can legitimately send a row twice around the
		// end of an initial load, so this is not evidence of a bad server.
		{name: "seq backwards", frame: func(sub string) (websocket.MessageType, []byte) {
			return websocket.MessageText, insertFrame(sub, 99, `"50"`)
		}, check: func([]error, []kalam.ConnectionEvent) string { return "" }},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			s := newScripted(t, &scripted{afterSubscribe: func(n int, sub string, send func(websocket.MessageType, []byte) error) {
				if n == 1 {
					if tc.first {
						send(tc.frame(sub))
					}
					send(websocket.MessageText, insertFrame(sub, 1, `"100"`))
					if !tc.first {
						send(tc.frame(sub))
					}
					send(websocket.MessageText, insertFrame(sub, 2, `"200"`))
					return
				}
				if tc.first {
					// The client had no position yet, so it resubscribes from
					// the start: a real server sends row 1 again.
					send(websocket.MessageText, insertFrame(sub, 1, `"100"`))
				}
				send(websocket.MessageText, insertFrame(sub, 2, `"200"`))
			}})
			c := newBadClient(t, s.srv.URL, nil)
			ctx := e2etest.Ctx(t, 30*time.Second)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			sub, err := c.Live(ctx, "SELECT * FROM items", kalam.LiveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			col := e2etest.Collect(ctx, sub)
			evs := col.WaitFor(t, ctx, "rows 1 and 2", e2etest.HasIDs("1", "2"))
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			e2etest.ExactlyOnce(t, evs, "1", "2")
			e2etest.CheckOrder(t, evs)
			if got := e2etest.IDs(evs); strings.Contains(strings.Join(got, ","), "99") {
				t.Fatalf("the bad row was delivered: %s", e2etest.Describe(evs))
			}
			// Problems and connection events are delivered on their own
			// callbacks, not in order with the subscription's events: wait.
			deadline := time.Now().Add(10 * time.Second)
			for {
				c.mu.Lock()
				conns := append([]kalam.ConnectionEvent(nil), c.conns...)
				c.mu.Unlock()
				miss := tc.check(c.problems(), conns)
				if miss == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal(miss)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if froms := s.subscribeFroms(); !tc.first && len(froms) > 1 && (froms[1] == nil || *froms[1] != 100) {
				t.Fatalf("the resubscribe did not resume from the last good row: from=%v", froms[1])
			}
			if tc.bounded > 0 {
				if grew := after.TotalAlloc - before.TotalAlloc; grew > tc.bounded {
					t.Fatalf("handling the frame allocated %d MiB, bound %d MiB", grew>>20, tc.bounded>>20)
				}
			}
		})
	}
}

// A frameCheck says what is missing from the problems and connection
// events reported so far ("" when nothing is).
type frameCheck func(problems []error, conns []kalam.ConnectionEvent) string

func wantProtocol(problems []error, conns []kalam.ConnectionEvent) string {
	return wantErr(kalam.ErrProtocol)(problems, conns)
}

// wantErr wants a reported problem matching one of targets.
func wantErr(targets ...error) frameCheck {
	return func(problems []error, _ []kalam.ConnectionEvent) string {
		for _, err := range problems {
			for _, target := range targets {
				if errors.Is(err, target) {
					return ""
				}
			}
		}
		return fmt.Sprintf("no problem matching %v was reported; got %v", targets, problems)
	}
}

// wantTooLarge wants the oversized frame named: a problem matching
// wire.ErrFrameTooLarge or kalam.ErrProtocol, or a close with 1009.
func wantTooLarge(problems []error, conns []kalam.ConnectionEvent) string {
	for _, err := range problems {
		if errors.Is(err, wire.ErrFrameTooLarge) || errors.Is(err, kalam.ErrProtocol) {
			return ""
		}
	}
	for _, ev := range conns {
		if ev.Code == 1009 {
			return ""
		}
	}
	return fmt.Sprintf("the oversized frame was not reported: problems %v, connection events %+v", problems, conns)
}

// TestBadHTTPBodies answers queries with bodies that are not KalamDB's and
// checks every one gives a typed error, with memory bounded.
func TestBadHTTPBodies(t *testing.T) {
	cases := []struct {
		name   string
		status int
		ctype  string
		body   func(w http.ResponseWriter)
	}{
		{"garbage 200", 200, "application/json", func(w http.ResponseWriter) { w.Write([]byte("this is not json")) }},
		{"truncated 200", 200, "application/json", func(w http.ResponseWriter) { w.Write([]byte(`{"status":"success","results":[{"schema":[`)) }},
		{"wrong shape 200", 200, "application/json", func(w http.ResponseWriter) { w.Write([]byte(`[1,2,3]`)) }},
		{"html 500", 500, "text/html", func(w http.ResponseWriter) { w.Write([]byte("<html><body>upstream exploded</body></html>")) }},
		{"html 502", 502, "text/html", func(w http.ResponseWriter) { w.Write([]byte("<html>bad gateway</html>")) }},
		{"endless 200", 200, "application/json", func(w http.ResponseWriter) {
			w.Write([]byte(`{"status":"success","results":[{"rows":[["`))
			chunk := bytes.Repeat([]byte("a"), 1<<20)
			for range 256 { // 256 MiB, four times the response cap
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			s := newScripted(t, &scripted{sql: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				tc.body(w)
			}})
			c := newBadClient(t, s.srv.URL, nil)
			ctx := e2etest.Ctx(t, 30*time.Second)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Query(ctx, "SELECT 1")
			runtime.ReadMemStats(&after)
			var qe *kalam.QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("Query = %v (%T), want a *kalam.QueryError", err, err)
			}
			if tc.status >= 400 && qe.Status != tc.status {
				t.Fatalf("status %d reported as %d: %v", tc.status, qe.Status, err)
			}
			// The body is cut at 64 MiB; the doubling buffer costs about twice that,
			// plus the transport's own buffers.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
				t.Fatalf("one bad response allocated %d MiB", grew>>20)
			}
			if c.State() == kalam.StateClosed {
				t.Fatal("a bad body closed the client")
			}
		})
	}
}

// TestBadApplicationInput checks that input the server would refuse, or
// that would break the connection for every subscription, is refused
// locally with a typed error before anything is sent.
func TestBadApplicationInput(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	c := e.client(nil)
	noNS := e.client(func(cfg *kalam.Config) { cfg.Namespace = "" })
	ctx := e2etest.Ctx(t, 10*time.Second)
	for _, sql := range []string{"", "   ", "\n\t"} {
		if _, err := c.Query(ctx, sql); !errors.Is(err, kalam.ErrEmptySQL) {
			t.Errorf("Query(%q) = %v, want ErrEmptySQL", sql, err)
		}
		if _, err := c.Live(ctx, sql, kalam.LiveOptions{}); !errors.Is(err, kalam.ErrEmptySQL) {
			t.Errorf("Live(%q) = %v, want ErrEmptySQL", sql, err)
		}
	}
	if _, err := noNS.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{}); !errors.Is(err, kalam.ErrNoNamespace) {
		t.Errorf("unqualified live SQL without a namespace = %v, want ErrNoNamespace", err)
	}
	absurd := []kalam.LiveOptions{
		{BatchSize: -1},
		{BatchSize: math.MinInt},
		{LastRows: -5},
		{LastRows: math.MaxUint32 + 1}, // last_rows is a u32 on the server: the whole socket would close 1011
		{BatchSize: math.MaxInt},
		{BatchSize: 10, LastRows: 11}, // the server refuses last_rows > batch_size
		{NoSnapshot: true, BatchSize: 5},
	}
	for _, o := range absurd {
		_, err := c.Live(ctx, "SELECT * FROM orders", o)
		if !errors.Is(err, kalam.ErrInvalidConfig) {
			t.Errorf("Live with %+v = %v, want a *kalam.ConfigError", o, err)
		}
	}
	if n := e.srv.Stats().WSAccepted; n != 0 {
		t.Fatalf("refused input still opened %d sockets", n)
	}
}

// TestProviderThatFails: a provider that always errors yields a typed
// error and is retried with backoff, not in a hot loop.
func TestProviderThatFails(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	var calls atomic.Int32
	boom := errors.New("identity service unavailable")
	log := newEngineLog()
	const backoffMin = 100 * time.Millisecond
	c := e.client(func(cfg *kalam.Config) {
		cfg.Auth = auth.Dynamic(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
			calls.Add(1)
			return auth.Credentials{}, boom
		})
		cfg.BackoffMin = backoffMin
		cfg.BackoffMax = time.Second
		cfg.Engine = log.engine
	})
	ctx := e2etest.Ctx(t, 10*time.Second)
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := c.Query(qctx, "SELECT 1")
	var pe *auth.ProviderError
	if !errors.Is(err, boom) || !errors.As(err, &pe) || pe.Provider != "dynamic" || pe.Op != "resolve" {
		t.Fatalf("Query = %v (%T), want the provider's error wrapped in *auth.ProviderError{dynamic, resolve}", err, err)
	}
	// The engine retries on its own schedule: each call after the first
	// comes from the retry timer, armed for at least the minimum backoff.
	// Four retries are enough to see a hot loop, whatever the machine's
	// load; no observation window is needed.
	steps := log.waitFor(t, ctx, "five provider calls", func(s []loggedStep) bool { return count(s, isResolve) >= 5 })
	checkPacedBy(t, steps, isResolve, fsm.TimerResolveRetry, backoffMin)
	if n := count(steps, isDial); n != 0 {
		t.Fatalf("%d dials without credentials", n)
	}
	if n := int(calls.Load()); n > count(log.snapshot(), isResolve) {
		t.Fatalf("the provider was called %d times, more than the engine asked for", n)
	}
	if _, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{}); err == nil {
		t.Fatal("Live without credentials succeeded")
	}
	if n := e.srv.Stats().WSAccepted; n != 0 {
		t.Fatalf("%d sockets opened without credentials", n)
	}
}

// TestProviderThatHangs: a provider that blocks until its context ends
// does not block the caller past its deadline, nor Close.
func TestProviderThatHangs(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	entered := make(chan struct{}, 16)
	released := make(chan struct{}, 16)
	c := e.client(func(cfg *kalam.Config) {
		cfg.Auth = auth.Dynamic(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
			entered <- struct{}{}
			<-ctx.Done()
			released <- struct{}{}
			return auth.Credentials{}, ctx.Err()
		})
	})
	qctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Query(qctx, "SELECT 1")
	if err == nil {
		t.Fatal("Query succeeded with a hanging provider")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, kalam.ErrNoCredentials) {
		t.Fatalf("Query = %v, want the deadline or ErrNoCredentials", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Query returned %v after its 300 ms deadline", took)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the provider was never called")
	}
	start = time.Now()
	c.Close()
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Close took %v with a hanging provider", took)
	}
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not cancel the provider's context")
	}
}

// TestProviderReturnsExpiredTokens: a provider that only ever has an
// expired token leads to a typed refusal and no hot loop.
func TestProviderReturnsExpiredTokens(t *testing.T) {
	e := newEnv(t, kalamtest.Config{AccessTokenTTL: time.Second, Leeway: -1}, false)
	access, _, err := e.srv.IssueTokens("alice")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // let the one-second token expire (exp has one-second resolution)
	var calls atomic.Int32
	st := e2etest.NewStates()
	log := newEngineLog()
	c := e.client(func(cfg *kalam.Config) {
		cfg.Auth = auth.Dynamic(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
			calls.Add(1)
			return auth.FromTokens(access, "")
		})
		cfg.OnStateChange = st.Record
		cfg.BackoffMin = 100 * time.Millisecond
		cfg.BackoffMax = time.Second
		cfg.Engine = log.engine
	})
	ctx := e2etest.Ctx(t, 15*time.Second)
	_, qerr := c.Query(ctx, "SELECT 1")
	var qe *kalam.QueryError
	if !errors.As(qerr, &qe) && !errors.Is(qerr, kalam.ErrCredentialsRejected) && !errors.Is(qerr, kalam.ErrNoCredentials) {
		t.Fatalf("Query with an expired token = %v, want a typed refusal", qerr)
	}
	if _, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{}); err != nil && !errors.Is(err, kalam.ErrCredentialsRejected) && !errors.Is(err, kalam.ErrNoCredentials) {
		t.Fatalf("Live = %v", err)
	}
	st.WaitFor(t, ctx, kalam.StateUnauthed)
	// The engine gives up on this token: once its requests are answered it
	// has nothing armed and nothing in flight, so it will never ask the
	// provider or dial again on its own. That is the absence of a hot loop,
	// read from the engine's schedule rather than from a sleep window.
	steps := log.waitFor(t, ctx, "the engine to go idle", func(s []loggedStep) bool { return pending(s) == "" })
	if n := count(steps, isResolve); n > 3 {
		t.Fatalf("the engine asked the provider %d times for one expired token", n)
	}
	if n, asked := int(calls.Load()), count(steps, isResolve); n != asked {
		t.Fatalf("the provider was called %d times, the engine asked %d times", n, asked)
	}
	if n, ws := count(steps, isDial), e.srv.Stats().WSAccepted; n != 0 || ws != 0 {
		t.Fatalf("%d dials, %d sockets accepted with an expired token", n, ws)
	}
	if c.State() != kalam.StateUnauthed {
		t.Fatalf("state = %v, want Unauthed", c.State())
	}
}
