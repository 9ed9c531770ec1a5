package wazerohost

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
	"github.com/kalamgo/kalam/transport/wire"
)

// sim drives the native engine and the engine in wazero with the same
// seeded inputs. The world around them (sockets, timers, the provider, the
// server) is modelled from the native engine's effects, and answers in any
// order, late or stale, the way a driver and a server could.
type sim struct {
	t       testing.TB
	seed    uint64
	r       *rand.Rand
	nat     *fsm.Engine
	was     *Engine
	now     time.Duration
	timers  map[fsm.Timer]fsm.SetTimer
	dials   []uint64
	resolve uint64
	queries []uint64
	seq     int64
	nextQID uint64
	nextSub int
	token   int
	steps   int
	want    []byte
	again   []byte
	history []string // input types of the last steps, for a failure report
	seen    map[string]int
	then    fsm.Input // an answer that follows the last input at once
}

func (s *sim) pick(n int) int { return s.r.IntN(n) }

func (s *sim) anySub() string {
	subs := s.nat.Subscriptions()
	if len(subs) == 0 || s.pick(8) == 0 {
		return fmt.Sprintf("s%d", s.pick(3))
	}
	return subs[s.pick(len(subs))].ID
}

func (s *sim) creds() auth.Credentials {
	s.token++
	if s.pick(10) == 0 {
		return auth.Credentials{Anonymous: true}
	}
	life := []time.Duration{0, time.Second, 30 * time.Second, time.Hour}[s.pick(4)]
	return auth.Credentials{
		AccessToken:  auth.NewSecret(fmt.Sprintf("tok-%d", s.token)),
		RefreshToken: auth.NewSecret("refresh"),
		Lifetime:     life, User: "alice", Role: "user",
	}
}

func (s *sim) nextSeq() int64 {
	if s.pick(5) == 0 && s.seq > 1000 {
		return s.seq - int64(s.pick(3))
	}
	s.seq += int64(1 + s.pick(3))
	return s.seq
}

var simErrors = []func() error{
	func() error { return auth.ErrRejected },
	func() error { return fmt.Errorf("provider: %w", auth.ErrTokenExpired) },
	func() error {
		return &auth.ProviderError{Provider: "basic", Op: "login", Err: errors.New("dial tcp: refused")}
	},
	func() error { return errors.New("network down") },
	func() error { return context.DeadlineExceeded },
	func() error { return errors.Join(io.EOF, errors.New("read")) },
	func() error { return &auth.MalformedTokenError{Reason: "not three segments"} },
	func() error { return nil },
}

func (s *sim) err() error { return simErrors[s.pick(len(simErrors))]() }

func (s *sim) frame(ep uint64, data string) fsm.Input {
	if s.pick(12) == 0 { // the server may gzip a message into a binary frame
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(data))
		zw.Close()
		return fsm.FrameReceived{Epoch: ep, Binary: true, Data: buf.Bytes()}
	}
	return fsm.FrameReceived{Epoch: ep, Data: []byte(data)}
}

func ack(id string, more bool, last int64) string {
	return fmt.Sprintf(`{"type":"subscription_ack","subscription_id":%q,"total_rows":0,"batch_control":{"batch_num":0,"has_more":%t,"status":"loading","last_seq_id":%d},"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"v","data_type":{"Decimal":{"precision":10,"scale":2}},"index":1}]}`, id, more, last)
}

func batch(id string, num int, more bool, seqs ...int64) string {
	rows := make([]string, len(seqs))
	for i, q := range seqs {
		rows[i] = fmt.Sprintf(`{"id":"%d","v":1.5,"_seq":"%d","_deleted":false}`, q, q)
	}
	last, status := "null", "ready"
	if len(seqs) > 0 {
		last = fmt.Sprint(seqs[len(seqs)-1])
	}
	if more {
		status = "loading"
	}
	return fmt.Sprintf(`{"type":"initial_data_batch","subscription_id":%q,"rows":[%s],"batch_control":{"batch_num":%d,"has_more":%t,"status":%q,"last_seq_id":%s}}`, id, strings.Join(rows, ","), num, more, status, last)
}

func change(id, kind string, seq int64) string {
	switch kind {
	case "delete":
		return fmt.Sprintf(`{"type":"change","subscription_id":%q,"change_type":"delete","old_values":[{"id":"%d","_seq":"%d","_deleted":true}]}`, id, seq, seq)
	case "update":
		return fmt.Sprintf(`{"type":"change","subscription_id":%q,"change_type":"update","rows":[{"id":"%d","_seq":"%d","note":"ü \u00e9"}],"old_values":[{"id":"%d","_seq":"%d"}]}`, id, seq, seq, seq, seq-1)
	}
	return fmt.Sprintf(`{"type":"change","subscription_id":%q,"change_type":"insert","rows":[{"id":"%d","_seq":"%d","_deleted":false}]}`, id, seq, seq)
}

const authOK = `{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`

func (s *sim) response() *wire.SQLResponse {
	switch s.pick(3) {
	case 0:
		return &wire.SQLResponse{Status: "success", Took: 1.25, Results: []wire.QueryResult{{
			Schema:   []wire.SchemaField{{Name: "id", DataType: wire.DataType{Name: "BigInt"}, Index: 0, Flags: []string{"pk"}}},
			Rows:     [][]json.RawMessage{{json.RawMessage(`1`)}, {json.RawMessage(` "2" `)}},
			RowCount: 2, AsUser: "alice",
		}}}
	case 1:
		return &wire.SQLResponse{Status: "error", Error: &wire.ErrorBody{Code: "SQL_EXECUTION_ERROR", Message: "no such table", Details: "t"}}
	}
	return &wire.SQLResponse{Status: "success", Results: []wire.QueryResult{{Message: "Inserted 1 row(s)", RowCount: 1}}}
}

// input chooses the next input.
func (s *sim) input() fsm.Input {
	if in := s.then; in != nil {
		s.then = nil
		return in
	}
	ep := s.nat.Epoch()
	switch s.pick(30) {
	case 0:
		return fsm.Start{}
	case 1:
		s.resolve = 0
		return fsm.SetCredentials{Credentials: s.creds()}
	case 2:
		return fsm.SetNamespace{Namespace: []string{"app", "shop", "bad name", ""}[s.pick(4)]}
	case 3:
		return []fsm.Input{fsm.Connect{}, fsm.Disconnect{}}[s.pick(2)]
	case 4, 5:
		s.nextSub++
		var opts *wire.SubscriptionOptions
		if s.pick(3) > 0 {
			bs := 1 + s.pick(4)
			opts = &wire.SubscriptionOptions{BatchSize: &bs}
			if s.pick(3) == 0 {
				from := wire.SeqID(s.seq)
				opts.From = &from
			}
			if s.pick(4) == 0 {
				lr := s.pick(10)
				opts.LastRows = &lr
			}
		}
		return fsm.Subscribe{ID: fmt.Sprintf("s%d", s.nextSub), SQL: "SELECT * FROM t", Options: opts, Wait: s.pick(2) == 0}
	case 6:
		switch s.pick(4) {
		case 0:
			return fsm.Pause{ID: s.anySub(), Position: wire.SeqID(s.seq - int64(s.pick(4))), HasPosition: s.pick(4) > 0}
		case 1:
			return fsm.Resume{ID: s.anySub()}
		default:
			return fsm.Unsubscribe{ID: s.anySub()}
		}
	case 7:
		s.nextQID++
		params := [][]any{nil, {1, "two", nil, true, 2.5}, {map[string]any{"a": []int{1, 2}}, int64(1) << 60}}[s.pick(3)]
		return fsm.Query{ID: s.nextQID, SQL: []string{"SELECT 1", "USE shop", " "}[s.pick(3)], Params: params, Namespace: []string{"", "app"}[s.pick(2)]}
	case 8:
		if s.pick(40) == 0 {
			return fsm.Drain{Deadline: s.now + time.Duration(s.pick(5))*time.Second}
		}
		return fsm.FreshAuth{}
	case 9:
		switch s.pick(90) {
		case 0:
			return fsm.Close{}
		case 1, 2:
			return fsm.NetworkChanged{Online: s.pick(2) == 0}
		case 3:
			return fsm.Wake{}
		}
		return fsm.PongReceived{Epoch: ep}
	case 10:
		if s.resolve == 0 {
			return fsm.PongReceived{Epoch: ep}
		}
		req := s.resolve
		s.resolve = 0
		if s.pick(3) == 0 {
			return fsm.CredentialsFailed{Req: req, Err: s.err(), Retryable: s.pick(2) == 0}
		}
		return fsm.CredentialsResolved{Req: req, Credentials: s.creds()}
	case 11:
		if len(s.dials) == 0 {
			return fsm.Dialed{Epoch: ep + 1} // a dial the engine never asked for
		}
		d := s.dials[s.pick(len(s.dials))]
		s.dials = slices.DeleteFunc(s.dials, func(x uint64) bool { return x == d })
		if s.pick(5) == 0 {
			return fsm.DialFailed{Epoch: d, Err: s.err()}
		}
		if s.pick(4) > 0 { // a server usually answers the authenticate at once
			s.then = fsm.FrameReceived{Epoch: d, Data: []byte(authOK)}
		}
		return fsm.Dialed{Epoch: d}
	case 12, 13:
		return s.frame(ep, authOK)
	case 14:
		return s.frame(ep, ack(s.anySub(), s.pick(2) == 0, s.seq))
	case 15, 16:
		seqs := make([]int64, s.pick(3))
		for i := range seqs {
			seqs[i] = s.nextSeq()
		}
		return s.frame(ep, batch(s.anySub(), s.pick(3), s.pick(2) == 0, seqs...))
	case 17, 18, 19, 20:
		return s.frame(ep, change(s.anySub(), []string{"insert", "update", "delete"}[s.pick(3)], s.nextSeq()))
	case 21:
		return fsm.SocketClosed{Epoch: ep, Code: []int{1000, 1001, 1006, 1008, 1011, 1002}[s.pick(6)], Reason: "bye"}
	case 22, 23:
		if len(s.timers) == 0 {
			s.now += time.Duration(s.pick(100)) * 10 * time.Millisecond
			return fsm.PongReceived{Epoch: ep}
		}
		var armed []fsm.Timer
		for t := range fsm.TimerGiveUp + 1 {
			if _, ok := s.timers[t]; ok {
				armed = append(armed, t)
			}
		}
		st := s.timers[armed[s.pick(len(armed))]]
		delete(s.timers, st.Timer)
		s.now = max(s.now, st.At)
		return fsm.TimerFired{Timer: st.Timer, Gen: st.Gen}
	case 24:
		s.now += time.Duration(s.pick(200)) * 50 * time.Millisecond
		return fsm.PongReceived{Epoch: ep}
	case 25:
		if len(s.queries) == 0 {
			return fsm.QueryResult{ID: 999, Response: &wire.SQLResponse{Status: "success"}}
		}
		id := s.queries[0]
		s.queries = s.queries[1:]
		switch s.pick(4) {
		case 0:
			return fsm.QueryResult{ID: id, Err: &fsm.QueryError{Status: 401, Code: wire.CodeTokenExpired, Message: "expired"}}
		case 1:
			return fsm.QueryResult{ID: id, Err: &fsm.QueryError{Message: "connection reset", Temporary: true}}
		}
		return fsm.QueryResult{ID: id, Response: s.response()}
	case 26:
		return s.frame(ep, []string{
			"{", `{"type":"nope"}`,
			`{"type":"error","subscription_id":"` + s.anySub() + `","code":"NOT_FOUND","message":"x"}`,
			`{"type":"error","subscription_id":"protocol","code":"PROTOCOL","message":"bad"}`,
			`{"type":"auth_error","message":"TOKEN_EXPIRED"}`,
			`{"type":"pong"}`,
		}[s.pick(6)])
	case 27:
		return s.frame(ep-1, change(s.anySub(), "insert", s.nextSeq())) // stale epoch
	case 28:
		return fsm.TimerFired{Timer: fsm.Timer(s.pick(7)), Gen: uint64(s.pick(50))} // stale firing
	}
	return fsm.PongReceived{Epoch: ep + uint64(s.pick(2))}
}

// step feeds in to both engines and fails on the first byte that differs.
func (s *sim) step(in fsm.Input) {
	s.t.Helper()
	s.steps++
	if s.history = append(s.history, fmt.Sprintf("%T", in)); len(s.history) > 12 {
		s.history = s.history[1:]
	}
	natEffs, natErr := s.nat.Step(s.now, in)
	var err error
	if s.want, err = abi.AppendStep(s.want[:0], natErr, s.nat.State(), natEffs); err != nil {
		s.t.Fatalf("seed %d step %d: encode native: %v", s.seed, s.steps, err)
	}
	if s.was.req, err = abi.AppendInput(s.was.req[:0], s.now, in); err != nil {
		s.t.Fatalf("seed %d step %d: encode input: %v", s.seed, s.steps, err)
	}
	raw, err := s.was.call(s.was.stepFn, s.was.req)
	if err != nil {
		s.t.Fatalf("seed %d step %d: call: %v", s.seed, s.steps, err)
	}
	if !bytes.Equal(raw, s.want) {
		s.fail("guest response", raw)
	}
	effs, werr := s.was.finish(raw)
	if s.again, err = abi.AppendStep(s.again[:0], werr, s.was.State(), effs); err != nil || !bytes.Equal(s.again, s.want) {
		s.fail("decoded and re-encoded response", s.again)
	}
	sameErr(s, "refusal", natErr, werr)
	for i, eff := range natEffs {
		sameErr(s, fmt.Sprintf("effect %d (%T)", i, eff), effectErr(eff), effectErr(effs[i]))
	}
	s.track(natEffs)
	if s.seen != nil {
		for _, eff := range natEffs {
			name := fmt.Sprintf("%T", eff)
			if d, ok := eff.(fsm.Deliver); ok {
				name += "/" + d.Event.Kind.String()
			}
			s.seen[name]++
		}
		s.seen["state/"+s.nat.State().String()]++
	}
	if s.steps%16 == 0 {
		s.compareViews()
	}
}

func effectErr(eff fsm.Effect) error {
	switch e := eff.(type) {
	case fsm.QueryDone:
		return e.Err
	case fsm.ConnectionEvent:
		return e.Err
	case fsm.Problem:
		return e.Err
	case fsm.Deliver:
		return e.Event.Err
	}
	return nil
}

// matchTargets are what drivers and applications match errors against.
var matchTargets = []error{
	fsm.ErrClosed, fsm.ErrDraining, fsm.ErrNoCredentials, fsm.ErrNoNamespace, fsm.ErrInvalidNamespace,
	fsm.ErrEmptySQL, fsm.ErrDuplicateSubscription, fsm.ErrUnknownSubscription, fsm.ErrDuplicateQuery,
	fsm.ErrDrainTimeout, fsm.ErrCredentialsRejected, fsm.ErrDeadLink, fsm.ErrConnectTimeout, fsm.ErrProtocol,
	auth.ErrRejected, auth.ErrTokenExpired, auth.ErrMalformedToken, wire.ErrUnknownType, io.EOF, context.DeadlineExceeded,
}

// sameErr checks that the decoded error reads and matches like the native one.
func sameErr(s *sim, what string, nat, was error) {
	s.t.Helper()
	if (nat == nil) != (was == nil) {
		s.t.Fatalf("seed %d step %d: %s: native %v, wazero %v", s.seed, s.steps, what, nat, was)
	}
	if nat == nil {
		return
	}
	if nat.Error() != was.Error() {
		s.t.Fatalf("seed %d step %d: %s: text %q vs %q", s.seed, s.steps, what, nat, was)
	}
	for _, target := range matchTargets {
		if errors.Is(nat, target) != errors.Is(was, target) {
			s.t.Fatalf("seed %d step %d: %s: errors.Is(%v) differs", s.seed, s.steps, what, target)
		}
	}
	var nt, wt *fsm.TransitionError
	var ns, ws *fsm.ServerError
	var nq, wq *fsm.QueryError
	if errors.As(nat, &nt) != errors.As(was, &wt) || errors.As(nat, &ns) != errors.As(was, &ws) || errors.As(nat, &nq) != errors.As(was, &wq) {
		s.t.Fatalf("seed %d step %d: %s: errors.As differs", s.seed, s.steps, what)
	}
}

func (s *sim) fail(what string, got []byte) {
	s.t.Helper()
	i := 0
	for i < len(got) && i < len(s.want) && got[i] == s.want[i] {
		i++
	}
	// Lengths and the offset only: the bytes may hold tokens.
	s.t.Fatalf("seed %d step %d: %s differs from the native engine's at byte %d (len %d vs %d)\nlast inputs: %s",
		s.seed, s.steps, what, i, len(got), len(s.want), strings.Join(s.history, " "))
}

func (s *sim) compareViews() {
	s.t.Helper()
	v, err := s.was.view()
	if err != nil {
		s.t.Fatalf("seed %d step %d: view: %v", s.seed, s.steps, err)
	}
	if v.State != s.nat.State() || v.Namespace != s.nat.Namespace() || !slices.Equal(v.Subscriptions, s.nat.Subscriptions()) {
		s.t.Fatalf("seed %d step %d: views differ: %+v vs %v %q %+v", s.seed, s.steps, v, s.nat.State(), s.nat.Namespace(), s.nat.Subscriptions())
	}
}

// track updates the world from the native engine's effects.
func (s *sim) track(effs []fsm.Effect) {
	for _, eff := range effs {
		switch e := eff.(type) {
		case fsm.ResolveCredentials:
			s.resolve = e.Req
		case fsm.Dial:
			s.dials = append(s.dials, e.Epoch)
		case fsm.CloseSocket:
			s.dials = slices.DeleteFunc(s.dials, func(x uint64) bool { return x == e.Epoch })
		case fsm.HTTPQuery:
			s.queries = append(s.queries, e.ID)
		case fsm.SetTimer:
			s.timers[e.Timer] = e
		case fsm.CancelTimer:
			delete(s.timers, e.Timer)
		}
	}
	if s.nat.State() == fsm.StateClosed {
		s.resolve = 0
	}
}

func simConfig(seed uint64) fsm.Config {
	cfg := fsm.Config{Seed: seed, HasProvider: seed%3 != 0, ResolveOnReconnect: seed%5 == 0, Eager: seed%4 == 0}
	if seed%2 == 0 {
		cfg.Namespace = "app"
	}
	if seed%7 == 0 {
		cfg.RefreshMargin = time.Second
		cfg.MaxFrame = 512
	}
	return cfg
}

// runSim runs one seeded script of n inputs through both engines; e is
// reset to the seed's config first.
func runSim(t testing.TB, e *Engine, seed uint64, n int, seen map[string]int) {
	cfg := simConfig(seed)
	if err := e.Reset(cfg); err != nil {
		t.Fatalf("seed %d: reset: %v", seed, err)
	}
	s := &sim{t: t, seed: seed, r: rand.New(rand.NewPCG(seed, 0x6b616c616d)), nat: fsm.New(cfg), was: e, timers: map[fsm.Timer]fsm.SetTimer{}, seq: 1000, seen: seen}
	for range n {
		s.step(s.input())
	}
	s.compareViews()
}

// TestDifferentialConformance runs seeded simulations through the native
// engine and the engine in wazero and requires byte-identical step
// responses (refusal, state and effects) at every step, decoded effects
// that re-encode to the same bytes, errors that match the same sentinels
// and types, and the same views.
func TestDifferentialConformance(t *testing.T) {
	h := sharedHost(t)
	ctx := context.Background()
	e, err := h.NewEngine(ctx, fsm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	seeds, steps := 1000, 200
	if testing.Short() {
		seeds = 200
	}
	if raceEnabled {
		steps = 60 // the race detector slows the native side tenfold; the seeds stay
	}
	seen := map[string]int{}
	for seed := range uint64(seeds) {
		// One seed in four sends frames without the host's index, so the
		// guest's own scan is compared too.
		e.noIndex = seed%4 == 3
		runSim(t, e, seed, steps, seen)
	}
	// The scripts must reach every effect, event kind and state, or the
	// comparison proves less than it seems to.
	var want []string
	for _, eff := range []fsm.Effect{fsm.ResolveCredentials{}, fsm.Dial{}, fsm.Authenticate{}, fsm.Send{}, fsm.Ping{},
		fsm.CloseSocket{}, fsm.HTTPQuery{}, fsm.SetTimer{}, fsm.CancelTimer{}, fsm.QueryDone{}, fsm.StateChanged{},
		fsm.ConnectionEvent{}, fsm.Problem{}, fsm.DrainDone{}} {
		want = append(want, fmt.Sprintf("%T", eff))
	}
	for k := fsm.EventSubscribed; k <= fsm.EventEnded; k++ {
		want = append(want, "fsm.Deliver/"+k.String())
	}
	for _, st := range fsm.States() {
		want = append(want, "state/"+st.String())
	}
	for _, w := range want {
		if seen[w] == 0 {
			t.Errorf("no script produced %s", w)
		}
	}
	t.Logf("%d seeds × %d steps; coverage: %v", seeds, steps, seen)
}
