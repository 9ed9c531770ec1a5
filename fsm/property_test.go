package fsm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/wire"
)

// source yields the bytes that choose the next operation.
type source interface{ next() (byte, bool) }

type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) next() (byte, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	s.i++
	return s.b[s.i-1], true
}

type randSource struct {
	r    *rand.Rand
	left int
}

func (s *randSource) next() (byte, bool) {
	if s.left <= 0 {
		return 0, false
	}
	s.left--
	return byte(s.r.UintN(256)), true
}

// world is a model of everything outside the engine: it answers effects the
// way a driver and a server could, in any order, including late and stale
// answers, and checks the engine's promises after every step.
type world struct {
	e       *Engine
	now     time.Duration
	src     source
	timers  map[Timer]SetTimer
	open    map[uint64]bool // sockets the driver holds open
	dials   []uint64        // dials not answered yet
	resolve uint64          // outstanding ResolveCredentials, 0 if none
	queries []uint64        // HTTPQuery ids not answered yet
	lastSeq map[string]wire.SeqID
	paused  map[string]wire.SeqID
	seq     int64
	nextQID uint64
	nextSub int
	token   int
	steps   int
	trace   []string // the last steps, for a failure report
}

func newWorld(src source, cfg Config) *world {
	return &world{
		e: New(cfg), src: src, timers: map[Timer]SetTimer{}, open: map[uint64]bool{},
		lastSeq: map[string]wire.SeqID{}, paused: map[string]wire.SeqID{}, seq: 1000,
	}
}

func (w *world) pick(n int) int {
	b, _ := w.src.next()
	return int(b) % n
}

func (w *world) subIDs() []string {
	var ids []string
	for _, s := range w.e.Subscriptions() {
		ids = append(ids, s.ID)
	}
	return ids
}

func (w *world) anySub() string {
	ids := w.subIDs()
	if len(ids) == 0 {
		return "s0"
	}
	return ids[w.pick(len(ids))]
}

func (w *world) newToken() auth.Credentials {
	w.token++
	life := []time.Duration{0, time.Second, 30 * time.Second, time.Hour}[w.pick(4)]
	return auth.Credentials{AccessToken: auth.NewSecret(fmt.Sprintf("tok-%d", w.token)), Lifetime: life}
}

// seqFor returns a _seq: usually new, sometimes a replay of an old one.
func (w *world) seqFor() int64 {
	if w.pick(5) == 0 && w.seq > 1000 {
		return w.seq - int64(w.pick(3))
	}
	w.seq += int64(1 + w.pick(3))
	return w.seq
}

// op performs one random operation; false when the source is exhausted.
func (w *world) op() (bool, error) {
	b, ok := w.src.next()
	if !ok {
		return false, nil
	}
	ep := w.e.Epoch()
	var in, then Input
	switch b % 28 {
	case 0:
		in = Start{}
	case 1:
		in = SetCredentials{Credentials: w.newToken()}
		w.resolve = 0 // what the application pushes supersedes a pending answer
	case 2:
		in = SetNamespace{Namespace: []string{"app", "shop"}[w.pick(2)]}
	case 3:
		in = Connect{}
	case 4:
		in = Disconnect{}
	case 5, 6:
		w.nextSub++
		var opts *wire.SubscriptionOptions
		if w.pick(3) > 0 {
			bs := 1 + w.pick(4)
			opts = &wire.SubscriptionOptions{BatchSize: &bs}
		}
		in = Subscribe{ID: fmt.Sprintf("s%d", w.nextSub), SQL: "SELECT * FROM t", Options: opts, Wait: w.pick(2) == 0}
	case 7:
		switch w.pick(4) {
		case 0:
			in = Pause{ID: w.anySub(), Position: wire.SeqID(w.seq - int64(w.pick(4))), HasPosition: w.pick(4) > 0}
		case 1:
			in = Resume{ID: w.anySub()}
		default:
			in = Unsubscribe{ID: w.anySub()}
		}
	case 8:
		w.nextQID++
		in = Query{ID: w.nextQID, SQL: "SELECT 1"}
	case 9:
		if w.pick(16) == 0 {
			in = Drain{Deadline: w.now + time.Duration(w.pick(5))*time.Second}
		} else {
			in = FreshAuth{}
		}
	case 10:
		switch w.pick(32) {
		case 0:
			in = Close{}
		case 1, 2:
			in = NetworkChanged{Online: w.pick(2) == 0}
		case 3:
			in = Wake{}
		default:
			in = PongReceived{Epoch: ep}
		}
	case 11:
		if w.resolve == 0 {
			return true, nil
		}
		in = CredentialsResolved{Req: w.resolve, Credentials: w.newToken()}
		w.resolve = 0
	case 12:
		if w.resolve == 0 {
			return true, nil
		}
		in = CredentialsFailed{Req: w.resolve, Err: auth.ErrRejected, Retryable: w.pick(2) == 0}
		w.resolve = 0
	case 13:
		if len(w.dials) == 0 {
			return true, nil
		}
		d := w.dials[w.pick(len(w.dials))]
		w.dials = remove(w.dials, d)
		w.open[d] = true
		in = Dialed{Epoch: d}
		if w.pick(4) > 0 { // a server usually answers the authenticate at once
			then = w.frame(d, `{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
		}
	case 14:
		if len(w.dials) == 0 {
			return true, nil
		}
		d := w.dials[0]
		w.dials = w.dials[1:]
		in = DialFailed{Epoch: d, Err: errors.New("refused")}
	case 15:
		in = w.frame(ep, `{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	case 16:
		in = w.frame(ep, ackJSON(w.anySub(), w.pick(2) == 0, w.seq))
	case 17, 18:
		n := w.pick(3)
		seqs := make([]int64, n)
		for i := range seqs {
			seqs[i] = w.seqFor()
		}
		in = w.frame(ep, batchJSON(w.anySub(), w.pick(3), w.pick(2) == 0, seqs...))
	case 19, 20, 21:
		in = w.frame(ep, changeJSON(w.anySub(), []string{"insert", "update", "delete"}[w.pick(3)], w.seqFor()))
	case 22:
		code := []int{1000, 1001, 1006, 1008, 1011, 1002}[w.pick(6)]
		delete(w.open, ep)
		in = SocketClosed{Epoch: ep, Code: code}
	case 23:
		if len(w.timers) == 0 {
			return true, nil
		}
		var armed []Timer
		for t := range numTimers {
			if _, ok := w.timers[Timer(t)]; ok {
				armed = append(armed, Timer(t))
			}
		}
		st := w.timers[armed[w.pick(len(armed))]]
		delete(w.timers, st.Timer)
		w.now = max(w.now, st.At)
		in = TimerFired{Timer: st.Timer, Gen: st.Gen}
	case 24:
		w.now += time.Duration(w.pick(200)) * 50 * time.Millisecond
		in = PongReceived{Epoch: ep}
	case 25:
		if len(w.queries) == 0 {
			return true, nil
		}
		id := w.queries[0]
		w.queries = w.queries[1:]
		switch w.pick(3) {
		case 0:
			in = QueryResult{ID: id, Err: &QueryError{Status: 401, Code: wire.CodeTokenExpired}}
		case 1:
			in = QueryResult{ID: id, Err: &QueryError{Status: 400, Code: wire.CodeSQLExecutionError}}
		default:
			in = QueryResult{ID: id, Response: &wire.SQLResponse{Status: "success"}}
		}
	case 26:
		in = w.frame(ep, []string{"{", `{"type":"error","subscription_id":"` + w.anySub() + `","code":"NOT_FOUND","message":"x"}`, `{"type":"nope"}`}[w.pick(3)])
	case 27:
		in = w.frame(ep-1, changeJSON(w.anySub(), "insert", w.seqFor())) // stale epoch
	}
	if err := w.apply(in); err != nil || then == nil {
		return true, err
	}
	return true, w.apply(then)
}

func (w *world) frame(ep uint64, data string) Input {
	return FrameReceived{Epoch: ep, Data: []byte(data)}
}

func remove(s []uint64, v uint64) []uint64 {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// apply steps the engine and checks every promise against its effects.
func (w *world) apply(in Input) error {
	w.steps++
	if p, ok := in.(Pause); ok {
		if p.HasPosition {
			pos := p.Position
			if last, ok := w.lastSeq[p.ID]; ok && last < pos {
				pos = last // the engine never moves a position forward on pause
			}
			w.paused[p.ID] = pos
		} else {
			delete(w.lastSeq, p.ID)
		}
	}
	wasClosed := w.e.State() == StateClosed
	from := w.e.State()
	effs, cmdErr := w.e.Step(w.now, in)
	line := fmt.Sprintf("#%d t=%v %s %T%+v err=%v ->", w.steps, w.now, from, in, in, cmdErr)
	for _, eff := range effs {
		line += fmt.Sprintf(" %T", eff)
	}
	if w.trace = append(w.trace, line+" now "+w.e.State().String()); len(w.trace) > 25 {
		w.trace = w.trace[1:]
	}
	if wasClosed && w.e.State() != StateClosed {
		return fmt.Errorf("left Closed for %v", w.e.State())
	}
	if err := w.e.CheckInvariants(); err != nil {
		return err
	}
	if err := w.e.CheckLiveness(); err != nil {
		return fmt.Errorf("liveness: %w", err)
	}
	resolves := 0
	for _, eff := range effs {
		switch eff := eff.(type) {
		case ResolveCredentials:
			resolves++
			if w.resolve != 0 || resolves > 1 {
				return fmt.Errorf("second credential resolution (req %d) while req %d is in flight", eff.Req, w.resolve)
			}
			w.resolve = eff.Req
		case Dial:
			w.dials = append(w.dials, eff.Epoch)
		case Send:
			if eff.Epoch != w.e.Epoch() || !w.open[eff.Epoch] {
				return fmt.Errorf("send on epoch %d (current %d, open %t)", eff.Epoch, w.e.Epoch(), w.open[eff.Epoch])
			}
		case Authenticate:
			if eff.Epoch != w.e.Epoch() || !w.open[eff.Epoch] {
				return fmt.Errorf("authenticate on epoch %d (current %d)", eff.Epoch, w.e.Epoch())
			}
		case Ping:
			if eff.Epoch != w.e.Epoch() || !w.open[eff.Epoch] {
				return fmt.Errorf("ping on epoch %d (current %d)", eff.Epoch, w.e.Epoch())
			}
		case CloseSocket:
			delete(w.open, eff.Epoch)
			w.dials = remove(w.dials, eff.Epoch)
		case HTTPQuery:
			w.queries = append(w.queries, eff.ID)
		case SetTimer:
			w.timers[eff.Timer] = eff
		case CancelTimer:
			delete(w.timers, eff.Timer)
		case Deliver:
			if err := w.checkDelivery(eff); err != nil {
				return err
			}
		case StateChanged:
			if eff.To == StateLive && (w.e.Namespace() == "" || w.e.cred.AccessToken.IsZero()) {
				return fmt.Errorf("went Live without namespace or token")
			}
		}
	}
	if w.e.State() == StateClosed {
		w.resolve = 0
	}
	return nil
}

func (w *world) checkDelivery(d Deliver) error {
	if p, ok := w.paused[d.Sub]; ok {
		// After a pause the consumer's position is the pause position.
		w.lastSeq[d.Sub] = p
		delete(w.paused, d.Sub)
	}
	rows := d.Event.Rows
	if d.Event.Kind == EventDelete {
		rows = d.Event.OldValues
	}
	last, seen := w.lastSeq[d.Sub]
	for _, r := range rows {
		seq, ok, err := wire.RowSeq(r)
		if err != nil || !ok {
			continue
		}
		if seen && seq <= last {
			return fmt.Errorf("subscription %s delivered _seq %d after %d", d.Sub, seq, last)
		}
		last, seen = seq, true
	}
	if seen {
		w.lastSeq[d.Sub] = last
	}
	if d.Event.Kind == EventEnded || d.Event.Kind == EventError {
		delete(w.lastSeq, d.Sub)
	}
	return nil
}

func runWorld(t testing.TB, src source, cfg Config) {
	w := newWorld(src, cfg)
	for {
		more, err := w.op()
		if err != nil {
			t.Fatalf("after %d steps: %v\nlast steps:\n%s", w.steps, err, strings.Join(w.trace, "\n"))
		}
		if !more {
			return
		}
	}
}

// TestRandomInputSequences drives the engine with seeded random sequences
// and checks the invariants after every step. A failure names its seed.
func TestRandomInputSequences(t *testing.T) {
	seeds := 5000
	if testing.Short() {
		seeds = 300
	}
	for seed := range seeds {
		cfg := Config{Seed: uint64(seed), HasProvider: seed%3 != 0, ResolveOnReconnect: seed%5 == 0, Eager: seed%4 == 0}
		if seed%2 == 0 {
			cfg.Namespace = "app"
		}
		src := &randSource{r: rand.New(rand.NewPCG(uint64(seed), 42)), left: 400}
		w := newWorld(src, cfg)
		for {
			more, err := w.op()
			if err != nil {
				t.Fatalf("seed %d, step %d: %v\nlast steps:\n%s", seed, w.steps, err, strings.Join(w.trace, "\n"))
			}
			if !more {
				break
			}
		}
	}
}

// FuzzEngine feeds arbitrary operation sequences to the engine: no panic,
// and every invariant holds after every step.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 1, 2, 5, 13, 15, 16, 17, 19, 22, 23, 13, 15, 19})
	f.Add([]byte{0, 11, 5, 2, 13, 15, 16, 18, 25, 8, 25, 9, 23, 23, 10})
	f.Add([]byte{1, 2, 5, 13, 15, 16, 17, 17, 17, 19, 20, 21, 27, 26, 22, 23, 13, 15})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cfg := Config{Seed: uint64(data[0]), HasProvider: data[0]&1 == 0, ResolveOnReconnect: data[0]&2 == 0, Eager: data[0]&4 == 0}
		runWorld(t, &byteSource{b: data[1:]}, cfg)
	})
}
