package wazero

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
	"github.com/kalamgo/kalam/internal/e2etest"
	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/kalamtest/faultproxy"
	"github.com/kalamgo/kalam/transport/wire"
)

// The native client's end-to-end flows — login, live changes, refresh
// while live, drop and resume, drain and close — against kalamtest on
// loopback, each run twice: with the native engine and with the engine in
// wazero, through the same client API. The native runs are recorded and
// replayed through the engine in wazero, which must answer every step of
// the real session with the same bytes.

const alicePassword = "Alice-Secret-Pass-1"

type env struct {
	t       *testing.T
	engine  string // "native" or "wazero"
	srv     *kalamtest.Server
	proxy   *faultproxy.Proxy
	url     string
	mu      sync.Mutex
	engines []*Engine // every engine the clients built, to check release
}

// forEachEngine runs test once per engine.
func forEachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	for _, engine := range []string{"native", "wazero"} {
		t.Run(engine, func(t *testing.T) { test(t, engine) })
	}
}

func newEnv(t *testing.T, engine string, cfg kalamtest.Config, withProxy bool) *env {
	t.Helper()
	cfg.Users = append(cfg.Users, kalamtest.User{Name: "alice", Password: alicePassword, Role: "user"})
	srv := kalamtest.NewServer(t, cfg)
	e := &env{t: t, engine: engine, srv: srv, url: srv.URL}
	e.root("CREATE NAMESPACE app")
	e.root("CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT, note TEXT)")
	if withProxy {
		p, err := faultproxy.New(srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		e.proxy, e.url = p, "http://"+p.Addr()
	}
	return e
}

func (e *env) root(sql string) {
	e.t.Helper()
	if _, err := e.srv.Exec(context.Background(), "root", sql); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) write(sql string, params ...any) {
	e.t.Helper()
	if _, err := e.srv.Exec(context.Background(), "alice", sql, params...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// client builds a client for alice with the env's engine.
func (e *env) client(mod func(*kalam.Config)) *kalam.Client {
	e.t.Helper()
	cfg := kalam.Config{
		URL: e.url, Auth: auth.Basic("alice", alicePassword), Namespace: "app",
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		PingInterval: 500 * time.Millisecond, PongTimeout: time.Second, Seed: 1,
	}
	if mod != nil {
		mod(&cfg)
	}
	if e.engine == "native" {
		// Record what the client feeds its engine, then replay the session
		// through the engine in wazero: same inputs, same bytes out.
		cfg.Engine = func(fc fsm.Config) (fsm.Stepper, error) {
			rec := &recorder{eng: fsm.New(fc), cfg: fc}
			e.t.Cleanup(func() { rec.replay(e.t) }) // runs after the client's Close below
			return rec, nil
		}
	} else {
		factory := sharedHost(e.t).Factory(context.Background())
		cfg.Engine = func(fc fsm.Config) (fsm.Stepper, error) {
			st, err := factory(fc)
			if err == nil {
				e.mu.Lock()
				e.engines = append(e.engines, st.(*Engine))
				e.mu.Unlock()
			}
			return st, err
		}
	}
	c, err := kalam.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func TestE2ELoginQueryAndTypedErrors(t *testing.T) { forEachEngine(t, testE2ELoginQueryAndTypedErrors) }

func testE2ELoginQueryAndTypedErrors(t *testing.T, engine string) {
	e := newEnv(t, engine, kalamtest.Config{}, false)
	c := e.client(nil)
	ctx := e2etest.Ctx(t, 15*time.Second)
	big := int64(309840000500000123) // above 2^53: the parameter crosses the ABI as JSON text
	if _, err := c.Query(ctx, "INSERT INTO orders (id, status, note) VALUES ($1, $2, $3)", big, "open", "x"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Query(ctx, "SELECT id, status FROM orders WHERE status = $1", "open")
	if err != nil {
		t.Fatal(err)
	}
	if rows := res.Rows(); len(rows) != 1 {
		t.Fatalf("rows = %d", len(rows))
	} else if id, err := rows[0].Get("id").Int64(); err != nil || id != big {
		t.Fatalf("id = %d, %v", id, err)
	}
	if cols := res.Statements[0].Columns; len(cols) != 2 || cols[0].Type != "BigInt" || !cols[0].PrimaryKey {
		t.Fatalf("columns = %+v", cols)
	}
	_, err = c.Query(ctx, "SELECT * FROM app.nope")
	var qe *kalam.QueryError
	if !errors.As(err, &qe) || qe.Status != 400 || qe.Code != wire.CodeSQLExecutionError {
		t.Fatalf("error = %v", err)
	}
	if st := c.State(); st != kalam.StateAuthed {
		t.Fatalf("state = %v, want Authed", st)
	}
	// A refusal crosses as *TransitionError naming its guard.
	if err := c.SetNamespace(""); err == nil {
		t.Fatal("empty namespace accepted")
	}
	c2 := e.client(func(cfg *kalam.Config) { cfg.Namespace = "" })
	_, err = c2.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	var te *kalam.TransitionError
	if !errors.Is(err, kalam.ErrNoNamespace) || !errors.As(err, &te) || te.Guard != "hasNamespace" {
		t.Fatalf("Live without namespace = %v", err)
	}
}

func TestE2ELiveInsertUpdateDelete(t *testing.T) { forEachEngine(t, testE2ELiveInsertUpdateDelete) }

func testE2ELiveInsertUpdateDelete(t *testing.T, engine string) {
	e := newEnv(t, engine, kalamtest.Config{}, false)
	e.write("INSERT INTO app.orders (id, status) VALUES (1, 'open'), (2, 'open')")
	st := e2etest.NewStates()
	c := e.client(func(cfg *kalam.Config) { cfg.OnStateChange = st.Record })
	ctx := e2etest.Ctx(t, 15*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM orders WHERE status = 'open'", kalam.LiveOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, sub)
	col.WaitFor(t, ctx, "the snapshot", func(evs []kalam.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Kind == kalam.EventSnapshot && evs[len(evs)-1].Last
	})
	e.write("INSERT INTO app.orders (id, status) VALUES (3, 'open')")
	e.write("UPDATE app.orders SET note = 'rush' WHERE id = 1")
	e.write("DELETE FROM app.orders WHERE id = 2")
	evs := col.WaitFor(t, ctx, "insert, update, delete", func(evs []kalam.Event) bool {
		return len(e2etest.IDs(evs)) >= 5
	})
	if got := strings.Join(e2etest.IDs(evs), ","); got != "1,2,3,1,2" {
		t.Fatalf("ids = %s", got)
	}
	if evs[0].Kind != kalam.EventSubscribed || len(evs[0].Columns) == 0 {
		t.Fatalf("first event = %+v", evs[0])
	}
	for _, ev := range evs {
		if ev.Kind == kalam.EventUpdate && ev.Rows[0].Get("note").String() != "rush" {
			t.Fatalf("update = %+v", ev.Rows[0])
		}
	}
	var path []string
	for _, tr := range st.All() {
		path = append(path, tr.To.String())
	}
	if got := strings.Join(path, ">"); !strings.HasPrefix(got, "Authed>Connecting>Connected>Live") {
		t.Fatalf("transitions = %s", got)
	}
	if subs := c.Subscriptions(); len(subs) != 1 || subs[0].ID != sub.ID() {
		t.Fatalf("subscriptions = %+v", subs)
	}
}

func TestE2ERefreshWhileLive(t *testing.T) { forEachEngine(t, testE2ERefreshWhileLive) }

func testE2ERefreshWhileLive(t *testing.T, engine string) {
	e := newEnv(t, engine, kalamtest.Config{AccessTokenTTL: 2 * time.Second, Leeway: -1}, false)
	var calls atomic.Int32
	provider := auth.Dynamic(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
		calls.Add(1)
		access, refresh, err := e.srv.IssueTokens("alice")
		if err != nil {
			return auth.Credentials{}, err
		}
		return auth.FromTokens(access, refresh)
	})
	c := e.client(func(cfg *kalam.Config) { cfg.Auth = provider; cfg.RefreshMargin = 500 * time.Millisecond })
	ctx := e2etest.Ctx(t, 30*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, sub)
	col.WaitFor(t, ctx, "the snapshot", func(evs []kalam.Event) bool { return len(evs) >= 2 })
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprint(100+i))
		e.write("INSERT INTO app.orders (id, status) VALUES ($1, 'open')", 100+i)
		if _, err := c.Query(ctx, "SELECT COUNT(*) AS n FROM orders"); err != nil {
			t.Fatalf("query at row %d: %v", i, err)
		}
		time.Sleep(250 * time.Millisecond) // workload pacing across token lifetimes, not an assertion
	}
	evs := col.WaitFor(t, ctx, "every row", e2etest.HasIDs(want...))
	e2etest.ExactlyOnce(t, evs, want...)
	e2etest.CheckOrder(t, evs)
	if n := calls.Load(); n < 3 {
		t.Fatalf("provider called %d times over 5 s of 2 s tokens", n)
	}
}

func TestE2EDropAndResume(t *testing.T) { forEachEngine(t, testE2EDropAndResume) }

func testE2EDropAndResume(t *testing.T, engine string) {
	e := newEnv(t, engine, kalamtest.Config{}, true)
	st := e2etest.NewStates()
	c := e.client(func(cfg *kalam.Config) { cfg.OnStateChange = st.Record })
	ctx := e2etest.Ctx(t, 20*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, sub)
	st.WaitFor(t, ctx, kalam.StateLive)
	e.write("INSERT INTO app.orders (id, status) VALUES (1, 'open')")
	col.WaitFor(t, ctx, "row 1", e2etest.HasIDs("1"))

	e.proxy.Down()
	st.WaitFor(t, ctx, kalam.StateBackoff)
	e.write("INSERT INTO app.orders (id, status) VALUES (2, 'open')") // during the outage
	e.proxy.Up()
	st.WaitFor(t, ctx, kalam.StateLive)
	e.write("INSERT INTO app.orders (id, status) VALUES (3, 'open')")
	evs := col.WaitFor(t, ctx, "rows 2 and 3 after the resume", e2etest.HasIDs("1", "2", "3"))
	e2etest.ExactlyOnce(t, evs, "1", "2", "3")
	e2etest.CheckOrder(t, evs)
	resumed := false
	for _, ev := range evs {
		resumed = resumed || ev.Kind == kalam.EventResumed
	}
	if !resumed {
		t.Fatalf("no resumed event: %v", evs)
	}
}

func TestE2EDrainFinishesTheLoad(t *testing.T) { forEachEngine(t, testE2EDrainFinishesTheLoad) }

func testE2EDrainFinishesTheLoad(t *testing.T, engine string) {
	e := newEnv(t, engine, kalamtest.Config{}, true)
	for i := range 10 {
		e.write("INSERT INTO app.orders (id, status) VALUES ($1, 'open'), ($2, 'open'), ($3, 'open'), ($4, 'open'), ($5, 'open')", i*5+1, i*5+2, i*5+3, i*5+4, i*5+5)
	}
	c := e.client(nil)
	ctx := e2etest.Ctx(t, 20*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{BatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, sub)
	col.WaitFor(t, ctx, "the first batch", func(evs []kalam.Event) bool { return len(e2etest.IDs(evs)) > 0 })
	e.proxy.SetLatency(20 * time.Millisecond)
	out, err := c.Drain(e2etest.Ctx(t, 10*time.Second))
	if err != nil || out.LoadsCompleted != 1 || out.TimedOut {
		t.Fatalf("drain = %+v, %v", out, err)
	}
	<-col.Done()
	if !errors.Is(col.Err(), kalam.ErrDraining) {
		t.Fatalf("subscription ended with %v", col.Err())
	}
	if n := len(e2etest.IDs(col.Snapshot())); n != 50 {
		t.Fatalf("the drained load delivered %d of 50 rows", n)
	}
	if c.State() != kalam.StateClosed {
		t.Fatalf("state = %v", c.State())
	}
	e.checkReleased()
}

func TestE2ECloseReleasesTheInstance(t *testing.T) { forEachEngine(t, testE2ECloseReleasesTheInstance) }

func testE2ECloseReleasesTheInstance(t *testing.T, engine string) {
	e := newEnv(t, engine, kalamtest.Config{}, false)
	c := e.client(nil)
	ctx := e2etest.Ctx(t, 15*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	col := e2etest.Collect(ctx, sub)
	col.WaitFor(t, ctx, "the subscription", func(evs []kalam.Event) bool { return len(evs) > 0 })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	<-col.Done()
	if !errors.Is(col.Err(), kalam.ErrClosed) {
		t.Fatalf("subscription ended with %v", col.Err())
	}
	if _, err := c.Query(ctx, "SELECT 1"); !errors.Is(err, kalam.ErrClosed) {
		t.Fatalf("query after close = %v", err)
	}
	e.checkReleased()
}

// recorder is an fsm.Stepper that keeps every step of a native engine, as
// the ABI encodes it, for a replay through the guest.
type recorder struct {
	eng   *fsm.Engine
	cfg   fsm.Config
	mu    sync.Mutex
	steps [][2][]byte // encoded input, encoded response
	err   error
}

func (r *recorder) Step(now time.Duration, in fsm.Input) ([]fsm.Effect, error) {
	effs, err := r.eng.Step(now, in)
	req, encErr := abi.AppendInput(nil, now, in)
	resp, respErr := abi.AppendStep(nil, err, r.eng.State(), effs)
	r.mu.Lock()
	r.steps = append(r.steps, [2][]byte{req, resp})
	r.err = errors.Join(r.err, encErr, respErr)
	r.mu.Unlock()
	return effs, err
}

func (r *recorder) State() fsm.State                      { return r.eng.State() }
func (r *recorder) Namespace() string                     { return r.eng.Namespace() }
func (r *recorder) Subscriptions() []fsm.SubscriptionInfo { return r.eng.Subscriptions() }

// replay feeds the recorded session to an engine in wazero and requires the
// same response bytes at every step. Failures name the step, never bytes
// (the session holds real tokens).
func (r *recorder) replay(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		t.Errorf("recording: %v", r.err)
		return
	}
	ctx := context.Background()
	eng, err := sharedHost(t).NewEngine(ctx, r.cfg)
	if err != nil {
		t.Error(err)
		return
	}
	defer eng.Close(ctx)
	for i, st := range r.steps {
		got, err := eng.call(eng.stepFn, st[0])
		if err != nil {
			t.Errorf("replay step %d of %d: %v", i+1, len(r.steps), err)
			return
		}
		if !bytes.Equal(got, st[1]) {
			t.Errorf("replay step %d of %d: the engine in wazero answered differently (%d bytes vs %d)", i+1, len(r.steps), len(got), len(st[1]))
			return
		}
	}
	if len(r.steps) < 3 {
		t.Errorf("only %d steps recorded", len(r.steps))
	}
	t.Logf("replayed %d steps of the native session through wazero: identical", len(r.steps))
}

// checkReleased requires every engine the clients built to have released
// its instance once closed.
func (e *env) checkReleased() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.engine == "wazero" && len(e.engines) == 0 {
		e.t.Fatal("no engine ran in wazero")
	}
	for _, eng := range e.engines {
		if eng.State() != fsm.StateClosed || eng.mod != nil {
			e.t.Fatalf("engine in %v still holds its instance", eng.State())
		}
	}
}
