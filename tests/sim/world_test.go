package sim

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// event is something scheduled on the virtual clock. Events at the same
// instant run in the order they were scheduled.
type event struct {
	at  time.Duration
	n   uint64
	run func()
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].n < h[j].n
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// knobs are the per-seed choices: configuration and fault rates.
type knobs struct {
	hasProvider   bool
	tokenTTL      time.Duration
	leeway        time.Duration
	skew          time.Duration // server wall clock minus client wall clock
	rate          float64       // server clock speed relative to the client's
	baseLatency   time.Duration
	chaos         time.Duration // length of the fault phase
	faultEvery    time.Duration // mean time between network/server faults
	providerFail  float64       // probability a resolution fails (fault phase)
	httpFail      float64       // probability an HTTP call is lost (fault phase)
	dialFail      float64       // probability a dial is refused (fault phase)
	lateTimers    float64       // probability a timer fires late (fault phase)
	drainInChaos  bool          // Drain at a random moment of the fault phase
	closeAtEnd    bool          // end with Close instead of Drain
	writeEvery    time.Duration // mean time between server-side writes
	appEvery      time.Duration // mean time between application actions
	staleTimerOdd float64       // probability a stale TimerFired is also fed
	loadCap       int           // the server's buffer of changes per loading subscription
	fastFrames    bool          // the engine paces above the server's frame rate
	bulk          bool          // the application starts many subscriptions at once, once
}

// Sim is one seeded run: the engine, the world around it and the checks.
type Sim struct {
	seed uint64
	rng  *rand.Rand
	k    knobs
	now  time.Duration
	q    eventHeap
	nEv  uint64

	eng *fsm.Engine
	cfg fsm.Config
	srv *server
	app *app
	chk *checker

	links  map[uint64]*link // every link ever made, by epoch
	timers [16]timerSlot
	online bool

	followups []fsm.Input
	faults    bool
	dec       wire.Decoder // the driver's view of frames, to see which incarnation an ack is for
	ackWire   string
	queued    map[*byte]*sconn // notification frames in the server's outgoing queue, by their first byte
	// A suspended process (a laptop lid, a frozen tab): inputs wait until
	// it wakes, the rest of the world goes on.
	suspendedUntil time.Duration
	deferred       []fsm.Input
	quiet          bool // quiescence: the world heals and the application catches up

	// Credentials as the driver sees them.
	resolveOut uint64 // outstanding ResolveCredentials request, 0 if none
	given      auth.Credentials
	givenAt    time.Duration
	hasGiven   bool

	drainDeadline time.Duration
	drainAsked    bool
	drainDone     bool
	isClosed      bool
	done          bool

	steps int
	hash  hash.Hash64
	ring  []string
	full  *[]string // every line, when the whole trace is asked for
	err   error
}

type timerSlot struct {
	armed bool
	gen   uint64
	at    time.Duration
}

// newSim builds the world of seed; nothing runs until run.
func newSim(seed uint64) *Sim {
	rng := rand.New(rand.NewPCG(seed, 0x6b616c616d73696d))
	s := &Sim{seed: seed, rng: rng, links: map[uint64]*link{}, online: true,
		hash: fnv.New64a(), queued: map[*byte]*sconn{}}
	k := &s.k
	k.hasProvider = rng.IntN(4) != 0
	k.tokenTTL = []time.Duration{3 * time.Second, 10 * time.Second, 30 * time.Second, 2 * time.Minute, time.Hour}[rng.IntN(5)]
	k.leeway = []time.Duration{0, time.Second, 60 * time.Second}[rng.IntN(3)]
	k.skew = time.Duration(rng.Int64N(int64(20*time.Minute))) - 10*time.Minute
	k.rate = 0.99 + rng.Float64()*0.02
	k.baseLatency = time.Duration(1+rng.IntN(80)) * time.Millisecond
	k.chaos = time.Duration(30+rng.IntN(90)) * time.Second
	k.faultEvery = time.Duration(2+rng.IntN(20)) * time.Second
	k.providerFail = []float64{0, 0.1, 0.4}[rng.IntN(3)]
	k.httpFail = []float64{0, 0.1, 0.3}[rng.IntN(3)]
	k.dialFail = []float64{0, 0.2, 0.5}[rng.IntN(3)]
	k.lateTimers = []float64{0, 0.05, 0.2}[rng.IntN(3)]
	k.drainInChaos = rng.IntN(8) == 0
	k.closeAtEnd = rng.IntN(4) == 0
	k.writeEvery = time.Duration(50+rng.IntN(2000)) * time.Millisecond
	k.appEvery = time.Duration(200+rng.IntN(3000)) * time.Millisecond
	k.staleTimerOdd = []float64{0, 0.1}[rng.IntN(2)]

	s.cfg = fsm.Config{
		HasProvider:        k.hasProvider,
		ResolveOnReconnect: k.hasProvider && rng.IntN(4) == 0,
		Eager:              rng.IntN(3) == 0,
		BackoffMin:         time.Duration(50+rng.IntN(500)) * time.Millisecond,
		BackoffMax:         time.Duration(1+rng.IntN(10)) * time.Second,
		Seed:               rng.Uint64(),
	}
	if rng.IntN(3) != 0 {
		s.cfg.Namespace = "app"
	}
	if rng.IntN(3) == 0 {
		s.cfg.RefreshMargin = time.Duration(rng.IntN(3000)) * time.Millisecond
	}
	// From a stream of their own, so a seed's world is what it was before
	// the limits were modelled.
	lim := rand.New(rand.NewPCG(seed, 0x6c696d697473))
	k.loadCap = []int{1024, 1024, 32, 4}[lim.IntN(4)]
	k.fastFrames = lim.IntN(4) == 0
	k.bulk = lim.IntN(6) == 0
	s.cfg.LoadBuffer = k.loadCap
	if k.fastFrames {
		s.cfg.FrameRate, s.cfg.FrameBurst = 200, 100 // over the server's 50/s: RATE_LIMIT_EXCEEDED answers
	}
	// A give-up policy on a quarter of the seeds, drawn last so that the
	// other knobs of a seed stay what they were.
	switch rng.IntN(8) {
	case 0:
		s.cfg.GiveUpAttempts = 2 + rng.IntN(8)
	case 1:
		s.cfg.GiveUpAfter = time.Duration(1+rng.IntN(30)) * time.Second
	}
	s.eng = fsm.New(s.cfg)
	s.chk = newChecker()
	s.srv = newServer(s)
	s.app = newApp(s)
	return s
}

// at schedules f at virtual time t (never in the past).
func (s *Sim) at(t time.Duration, f func()) {
	if t < s.now {
		t = s.now
	}
	s.nEv++
	heap.Push(&s.q, event{at: t, n: s.nEv, run: f})
}

func (s *Sim) after(d time.Duration, f func()) { s.at(s.now+d, f) }

// jitter returns a random duration in [0, d).
func (s *Sim) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(d)))
}

// exp draws an exponential delay with mean d (a Poisson process).
func (s *Sim) exp(d time.Duration) time.Duration {
	return time.Duration(s.rng.ExpFloat64() * float64(d))
}

func (s *Sim) chance(p float64) bool { return p > 0 && s.rng.Float64() < p }

func (s *Sim) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// logf keeps the last lines of the run for a failure report and hashes
// every line into the trace hash.
func (s *Sim) logf(format string, args ...any) {
	if what, ok := strings.CutPrefix(format, "fault: "); ok {
		what, _, _ = strings.Cut(what, "%")
		s.chk.count("seen: fault " + strings.TrimSpace(what))
	}
	line := fmt.Sprintf("t=%v "+format, append([]any{s.now}, args...)...)
	s.hash.Write([]byte(line))
	s.hash.Write([]byte{'\n'})
	if s.full != nil {
		*s.full = append(*s.full, line)
	}
	if len(s.ring) >= 60 {
		copy(s.ring, s.ring[1:])
		s.ring = s.ring[:len(s.ring)-1]
	}
	s.ring = append(s.ring, line)
}

// run executes the seed to the end and returns the first broken rule.
func (s *Sim) run() error {
	s.start()
	for s.q.Len() > 0 && s.err == nil && !s.done {
		ev := heap.Pop(&s.q).(event)
		if s.drainAsked && !s.drainDone && ev.at > s.drainDeadline {
			s.chk.count("drain_terminates")
			s.fail(fmt.Errorf("drain_terminates: no DrainDone by the deadline %v (now %v, state %v)", s.drainDeadline, ev.at, s.eng.State()))
			break
		}
		s.now = ev.at
		ev.run()
	}
	if s.err == nil && s.drainAsked {
		s.chk.count("drain_terminates")
		if !s.drainDone {
			s.fail(fmt.Errorf("drain_terminates: the run ended without DrainDone"))
		}
	}
	return s.err
}

// start schedules the phases of the run.
func (s *Sim) start() {
	s.logf("seed %d knobs %+v config %+v", s.seed, s.k, s.cfg)
	s.step(fsm.Start{})
	s.faults = true
	s.srv.startWriter()
	s.app.start()
	s.scheduleFaults()
	if s.k.drainInChaos {
		s.at(s.jitter(s.k.chaos), func() { s.app.drain(time.Duration(s.rng.IntN(8000)) * time.Millisecond) })
	}
	s.at(s.k.chaos, s.beginQuiet)
}

// beginQuiet ends the fault phase: the network heals, the application
// restores what it can, writes go on for a while and stop; then the
// no-loss check runs and the client shuts down.
func (s *Sim) beginQuiet() {
	if s.isClosed || s.drainAsked {
		return
	}
	if s.suspended() {
		s.at(s.suspendedUntil+time.Millisecond, s.beginQuiet)
		return
	}
	s.faults = false
	s.quiet = true
	s.logf("quiescence")
	for _, l := range s.sortedLinks() {
		l.latency = 0
	}
	s.srv.down = false
	s.online = true
	s.app.heal()
	writesStop := s.now + 20*time.Second
	s.srv.writeUntil = writesStop
	check := writesStop + 40*time.Second
	s.at(check, func() {
		if s.isClosed || s.drainAsked {
			return
		}
		s.app.consumeAll()
		s.at(s.now+time.Second, func() {
			if s.isClosed || s.drainAsked {
				return
			}
			s.app.consumeAll()
			s.chk.quiescence(s)
			s.finish()
		})
	})
}

// finish shuts the client down with Drain or Close and feeds late inputs
// after Closed.
func (s *Sim) finish() {
	if s.k.closeAtEnd {
		s.app.command(fsm.Close{})
	} else {
		s.app.drain(time.Duration(s.rng.IntN(5000)) * time.Millisecond)
	}
}

// afterClosed checks that Closed is terminal: late socket, timer, query and
// credential inputs produce no work, and commands fail with ErrClosed.
func (s *Sim) afterClosed() {
	s.done = true
	s.chk.count("subs_ended")
	if len(s.app.order) > 0 {
		s.fail(fmt.Errorf("subs_ended: subscriptions %v never got their last event", s.app.order))
		return
	}
	s.chk.count("query_done_once")
	if len(s.app.pending) > 0 {
		s.fail(fmt.Errorf("query_done_once: %d queries never completed", len(s.app.pending)))
		return
	}
	ep := s.eng.Epoch()
	late := []fsm.Input{
		fsm.FrameReceived{Epoch: ep, Data: []byte(`{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)},
		fsm.SocketClosed{Epoch: ep, Code: 1006},
		fsm.PongReceived{Epoch: ep},
		fsm.TimerFired{Timer: fsm.TimerPing, Gen: s.timers[fsm.TimerPing].gen},
		fsm.QueryResult{ID: 1, Err: &fsm.QueryError{Status: 500}},
		fsm.CredentialsResolved{Req: s.resolveOut + 1, Credentials: s.srv.login(false)},
		fsm.DialFailed{Epoch: ep, Err: errors.New("late")},
	}
	for _, in := range late {
		s.step(in)
	}
	for _, in := range []fsm.Input{fsm.Connect{}, fsm.Subscribe{ID: "late", SQL: "SELECT * FROM app.t"}, fsm.Query{ID: 999999, SQL: "SELECT 1"}, fsm.Start{}} {
		s.chk.count("closed_terminal")
		if err := s.step(in); !errors.Is(err, fsm.ErrClosed) {
			s.fail(fmt.Errorf("closed_terminal: %T after Closed returned %v, want ErrClosed", in, err))
		}
	}
}

// step feeds one input the way the native driver does (client.step):
// observe, Step, carry out the effects, then the follow-ups they queued.
func (s *Sim) step(in fsm.Input) error {
	if s.suspended() {
		s.deferred = append(s.deferred, in)
		return nil
	}
	err := s.stepOne(in)
	for len(s.followups) > 0 && s.err == nil {
		next := s.followups[0]
		s.followups = s.followups[1:]
		s.stepOne(next)
	}
	return err
}

func (s *Sim) stepOne(in fsm.Input) error {
	s.steps++
	s.observe(in)
	wasClosed := s.eng.State() == fsm.StateClosed
	from := s.eng.State()
	effs, err := s.eng.Step(s.now, in)
	s.logf("%s %s err=%v -> %s %s", from, describeInput(in), err, s.eng.State(), describeEffects(effs))
	s.chk.afterStep(s, in, err, effs, wasClosed)
	if s.err != nil {
		return err
	}
	s.runEffects(effs)
	return err
}

// observe updates the driver's view before the engine sees an input.
func (s *Sim) observe(in fsm.Input) {
	switch in := in.(type) {
	case fsm.Dialed:
		// client.loop attaches the socket when it handles the dial's result.
		if l := s.links[in.Epoch]; l != nil && l.driverHas {
			l.dialed = true
		}
	case fsm.SocketClosed:
		s.chk.closedSeen[in.Epoch] = true
	case fsm.FrameReceived:
		if len(in.Data) > 0 {
			if c := s.queued[&in.Data[0]]; c != nil {
				delete(s.queued, &in.Data[0])
				c.unread-- // read: it leaves the server's outgoing queue
			}
		}
		s.ackWire = ""
		if payload, err := s.dec.Payload(in.Binary, in.Data); err == nil && bytes.HasPrefix(payload, []byte(`{"type":"subscription_ack"`)) {
			var m struct {
				SubscriptionID string `json:"subscription_id"`
			}
			if json.Unmarshal(payload, &m) == nil {
				s.ackWire = m.SubscriptionID // the incarnation the ack is for
			}
		}
	case fsm.CredentialsResolved:
		if in.Req == s.resolveOut {
			s.resolveOut = 0
			if in.Credentials.Usable() {
				s.given, s.givenAt, s.hasGiven = in.Credentials, s.now, true
			}
		}
	case fsm.CredentialsFailed:
		if in.Req == s.resolveOut {
			s.resolveOut = 0
		}
	}
}

// runEffects carries out effects like client.run; anything slow is
// scheduled on the virtual clock.
func (s *Sim) runEffects(effs []fsm.Effect) {
	for _, eff := range effs {
		switch eff := eff.(type) {
		case fsm.ResolveCredentials:
			s.resolve(eff)
		case fsm.Dial:
			s.dial(eff.Epoch)
		case fsm.Authenticate:
			s.sendUp(eff.Epoch, wire.AuthenticateMessage(eff.Token.Reveal()), false)
		case fsm.Send:
			s.sendUp(eff.Epoch, append([]byte(nil), eff.Data...), false)
		case fsm.Ping:
			s.sendUp(eff.Epoch, nil, true)
		case fsm.CloseSocket:
			s.closeFromClient(eff.Epoch, eff.Code, eff.Reason)
		case fsm.HTTPQuery:
			s.httpQuery(eff)
		case fsm.SetTimer:
			s.setTimer(eff)
		case fsm.CancelTimer:
			s.timers[eff.Timer].armed = false
		case fsm.Deliver:
			s.app.deliver(eff)
		case fsm.QueryDone:
			s.app.queryDone(eff)
		case fsm.DrainDone:
			s.drainDone = true
		case fsm.StateChanged:
			if eff.To == fsm.StateClosed && !s.isClosed {
				s.isClosed = true
				s.after(15*time.Second, s.afterClosed)
			}
		}
	}
}

// --- timers -----------------------------------------------------------------

func (s *Sim) setTimer(st fsm.SetTimer) {
	s.timers[st.Timer] = timerSlot{armed: true, gen: st.Gen, at: st.At}
	at := st.At
	if s.faults && st.Timer != fsm.TimerDrain && s.chance(s.k.lateTimers) {
		at += s.jitter(5 * time.Second) // a suspended laptop, a hidden tab
	}
	s.at(at, func() {
		slot := s.timers[st.Timer]
		if !slot.armed || slot.gen != st.Gen {
			if s.faults && s.chance(s.k.staleTimerOdd) {
				s.step(fsm.TimerFired{Timer: st.Timer, Gen: st.Gen}) // a Stop that raced the firing
			}
			return
		}
		s.timers[st.Timer].armed = false
		s.step(fsm.TimerFired{Timer: st.Timer, Gen: st.Gen})
	})
}

// --- credentials --------------------------------------------------------------

func (s *Sim) resolve(rc fsm.ResolveCredentials) {
	s.resolveOut = rc.Req
	delay := time.Duration(5+s.rng.IntN(150)) * time.Millisecond
	if s.faults && s.rng.IntN(10) == 0 {
		delay += s.jitter(8 * time.Second)
	}
	failing := s.faults && (s.chance(s.k.providerFail) || s.srv.down)
	final := failing && s.rng.IntN(6) == 0
	same := s.faults && !failing && s.hasGiven && s.rng.IntN(25) == 0
	s.after(delay, func() {
		switch {
		case failing && final:
			s.step(fsm.CredentialsFailed{Req: rc.Req, Err: auth.ErrRejected, Retryable: false})
		case failing:
			s.step(fsm.CredentialsFailed{Req: rc.Req, Err: errors.New("provider: connection refused"), Retryable: true})
		case same:
			s.step(fsm.CredentialsResolved{Req: rc.Req, Credentials: s.given}) // a static provider hands back what it has
		default:
			s.step(fsm.CredentialsResolved{Req: rc.Req, Credentials: s.srv.login(true)})
		}
	})
}

// --- descriptions for the trace -------------------------------------------------

func describeInput(in fsm.Input) string {
	switch in := in.(type) {
	case fsm.FrameReceived:
		d := in.Data
		if in.Binary {
			return fmt.Sprintf("Frame{ep %d binary %d bytes}", in.Epoch, len(d))
		}
		if len(d) > 160 {
			d = d[:160]
		}
		return fmt.Sprintf("Frame{ep %d %s}", in.Epoch, redactFrame(string(d)))
	case fsm.QueryResult:
		if in.Err != nil {
			return fmt.Sprintf("QueryResult{%d err %v}", in.ID, in.Err)
		}
		return fmt.Sprintf("QueryResult{%d ok}", in.ID)
	case fsm.CredentialsResolved:
		return fmt.Sprintf("CredentialsResolved{%d %v}", in.Req, in.Credentials)
	case fsm.SetCredentials:
		return fmt.Sprintf("SetCredentials{%v}", in.Credentials)
	case fsm.Subscribe:
		opts, _ := json.Marshal(in.Options)
		return fmt.Sprintf("Subscribe{%s %q %s wait=%t}", in.ID, in.SQL, opts, in.Wait)
	}
	return fmt.Sprintf("%T%+v", in, in)
}

func redactFrame(s string) string {
	if strings.Contains(s, `"authenticate"`) {
		return "authenticate{…}"
	}
	return s
}

func describeEffects(effs []fsm.Effect) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range effs {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch e := e.(type) {
		case fsm.Send:
			fmt.Fprintf(&b, "Send{%d %s}", e.Epoch, e.Data)
		case fsm.Deliver:
			fmt.Fprintf(&b, "Deliver{%s %v seq %d rows %d old %d}", e.Sub, e.Event.Kind, e.Event.Seq, len(e.Event.Rows), len(e.Event.OldValues))
		case fsm.HTTPQuery:
			fmt.Fprintf(&b, "HTTPQuery{%d %q}", e.ID, e.Request.SQL)
		case fsm.QueryDone:
			fmt.Fprintf(&b, "QueryDone{%d ok=%t err=%v}", e.ID, e.Response != nil, e.Err)
		default:
			fmt.Fprintf(&b, "%T%+v", e, e)
		}
	}
	b.WriteByte(']')
	return b.String()
}

func (s *Sim) suspended() bool { return s.now < s.suspendedUntil }

// suspend freezes the client for d: timers, frames and answers pile up and
// are fed at once when it wakes, with Wake before or after them.
func (s *Sim) suspend(d time.Duration) {
	s.logf("fault: client suspended for %v", d)
	s.suspendedUntil = s.now + d
	s.at(s.suspendedUntil, func() {
		s.suspendedUntil = 0
		pending := s.deferred
		s.deferred = nil
		wakeFirst := s.rng.IntN(2) == 0
		if wakeFirst {
			s.step(fsm.Wake{})
		}
		for _, in := range pending {
			if s.err != nil {
				return
			}
			s.step(in)
		}
		if !wakeFirst {
			s.step(fsm.Wake{})
		}
	})
}
