package fsm

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/qmuntal/stateless"

	"github.com/kalamgo/kalam/auth/credential"
	"github.com/kalamgo/kalam/transport/wire"
)

// Config tunes an Engine. The zero value is usable; each field documents its
// default.
type Config struct {
	// Namespace is the initial namespace. Empty means none: live
	// subscriptions wait for SetNamespace.
	Namespace string `json:"namespace,omitempty"`
	// HasProvider says a credential provider can be asked: the engine emits
	// ResolveCredentials on start, before expiry and after a refusal. Without
	// one, credentials come only from SetCredentials.
	HasProvider bool `json:"hasProvider,omitempty"`
	// ResolveOnReconnect asks the provider before every redial (dynamic
	// providers), not only when the token is due.
	ResolveOnReconnect bool `json:"resolveOnReconnect,omitempty"`
	// Eager opens the socket as soon as credentials arrive. By default the
	// socket opens on Connect or on the first subscription.
	Eager bool `json:"eager,omitempty"`
	// RefreshMargin is how long before expiry the token is refreshed. Zero
	// means a tenth of the token's lifetime, at most 60 s.
	RefreshMargin time.Duration `json:"refreshMargin,omitempty"`
	// BackoffMin is the shortest redial delay; attempt n waits a uniformly
	// random time in [BackoffMin, min(BackoffMax, BackoffMin·2^(n+1))).
	// Zero means 500 ms.
	BackoffMin time.Duration `json:"backoffMin,omitempty"`
	// BackoffMax caps the redial delay. Zero means 30 s.
	BackoffMax time.Duration `json:"backoffMax,omitempty"`
	// PingInterval is the keepalive period. KalamDB closes sockets that send
	// nothing for 10 s. Zero means 5 s.
	PingInterval time.Duration `json:"pingInterval,omitempty"`
	// PongTimeout is how long after a ping the link may stay silent before it
	// is declared dead. Zero means 5 s.
	PongTimeout time.Duration `json:"pongTimeout,omitempty"`
	// ConnectTimeout bounds dial plus auth_success. Zero means 10 s.
	ConnectTimeout time.Duration `json:"connectTimeout,omitempty"`
	// Seed seeds the backoff jitter, so a run is reproducible.
	Seed uint64 `json:"seed,omitempty"`
	// MaxFrame and MaxInflated cap received frames (see wire.Decoder). Zero
	// means the wire defaults.
	MaxFrame    int64 `json:"maxFrame,omitempty"`
	MaxInflated int64 `json:"maxInflated,omitempty"`

	// FrameRate caps the text frames sent per second on one socket
	// (subscribe, unsubscribe, next_batch, keepalive): KalamDB drops frames
	// beyond 50/s with RATE_LIMIT_EXCEEDED. Frames wait in order and
	// leave on TimerPace. Zero means 40; negative sends at once.
	FrameRate int `json:"frameRate,omitempty"`
	// FrameBurst is how many frames may leave back to back. Zero means 20.
	FrameBurst int `json:"frameBurst,omitempty"`
	// RateLimitPause is how long nothing is sent after RATE_LIMIT_EXCEEDED
	// before what was not acknowledged goes again. Zero means 1 s.
	RateLimitPause time.Duration `json:"rateLimitPause,omitempty"`
	// AckTimeout is how long a subscribe may wait for its ack before it is
	// sent again. Zero means 10 s.
	AckTimeout time.Duration `json:"ackTimeout,omitempty"`
	// SubscribeAttempts is how many subscribes go unacknowledged before the
	// subscription ends with ErrSubscribeTimeout. Zero means 3.
	SubscribeAttempts int `json:"subscribeAttempts,omitempty"`
	// LagThreshold is how far a change's lag (arrival minus the commit time
	// in its _seq) may rise above the smallest lag seen before the server's
	// queue is taken to have backed up and every subscription catches up.
	// Zero means 500 ms; negative turns the check off.
	LagThreshold time.Duration `json:"lagThreshold,omitempty"`
	// LoadBuffer is the server's buffer of changes per loading
	// subscription (KalamDB: 1,024, dropping the oldest); a flush after the
	// last batch that reaches it starts a catch-up. Zero means 1,024.
	LoadBuffer int `json:"loadBuffer,omitempty"`
	// CatchUpRounds is how many times the delay of a follow-up round
	// (after a catch-up round whose replay brought rows; a resume after an
	// outage is not repeated) doubles; later ones wait as long as the
	// last, and they come as long as replays bring rows (a replay that
	// brings none ends the catch-up). Zero means 4 (200 ms … 3.2 s);
	// negative means no follow-up rounds.
	CatchUpRounds int `json:"catchUpRounds,omitempty"`
	// OutgoingQueue is the server's per-connection queue of change
	// notifications (KalamDB: 128, dropping what does not fit). It can only
	// overflow while that many changes wait for the connection, so a burst
	// of nearly that many changes (OutgoingQueue − OutgoingQueue/8) with no
	// quiet spell of BurstGap between two, or a load's flush of nearly
	// that many, starts a verifying catch-up. Zero means 128; negative
	// turns both checks off (LagThreshold and LoadBuffer still apply).
	OutgoingQueue int `json:"outgoingQueue,omitempty"`
	// BurstGap is the quiet spell between two change notifications that
	// ends a burst. Zero means 10 ms.
	BurstGap time.Duration `json:"burstGap,omitempty"`
	// CatchUpDelay is the delay before a follow-up round, doubled per
	// round up to BackoffMax. Zero means 200 ms.
	CatchUpDelay time.Duration `json:"catchUpDelay,omitempty"`
	// GiveUpAttempts and GiveUpAfter are the give-up policy: once that
	// many connection or credential attempts in a row have failed, or that
	// long has passed since the first of them began, the engine stops
	// retrying and fails the waiting work with a *GiveUpError. Zero (the
	// default) means keep trying. New work starts a fresh round.
	GiveUpAttempts int           `json:"giveUpAttempts,omitempty"`
	GiveUpAfter    time.Duration `json:"giveUpAfter,omitempty"`
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.BackoffMin, 500*time.Millisecond)
	def(&c.BackoffMax, 30*time.Second)
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	def(&c.PingInterval, 5*time.Second)
	def(&c.PongTimeout, 5*time.Second)
	def(&c.ConnectTimeout, 10*time.Second)
	c.defaultLimits()
	return c
}

// Engine is the sans-I/O lifecycle engine. It does no I/O, starts no
// goroutines and reads no clock: Step takes the time and an input and
// returns the effects for a driver to carry out. The same inputs give the
// same effects.
//
// An Engine is not safe for concurrent use: one goroutine (the driver's
// loop) owns it.
type Engine struct {
	cfg   Config
	sm    *stateless.StateMachine
	state State
	now   time.Duration
	out   []Effect
	rng   *rand.Rand

	actions    map[string]func(State, Trigger)
	guardFuncs [numGuards]stateless.GuardFunc

	started bool

	// Credentials.
	cred           credential.Credentials
	hasCred        bool
	credExpiry     time.Duration // 0: unknown
	credRejected   bool
	rejectedToken  credential.Secret
	resolving      bool
	resolveReq     uint64
	resolveBlocked bool // a non-retryable failure: wait for SetCredentials/FreshAuth
	// credErr is why the last resolution brought nothing usable while no
	// valid token was held; new work fails fast with it until credentials
	// arrive, instead of waiting on a provider that keeps failing.
	credErr       error
	resolveTries  int
	rejections    int // consecutive auth refusals; reset by auth_success
	dialAfterAuth bool

	namespace string

	// Socket.
	epoch    uint64
	sockOpen bool // Dialed seen, not closed
	// announced: the application was told the current socket is connected;
	// only such a socket is reported lost (a failed attempt is a Problem).
	announced   bool
	dialing     bool // Dial emitted, no answer yet
	closing     bool // we asked the socket of epoch to close
	wantConnect bool
	hold        bool // Disconnect asked: keep the socket closed
	offline     bool // the platform says the network is down
	attempts    int
	lastInbound time.Duration
	pingSentAt  time.Duration // the ping the pong deadline judges
	lastPing    time.Duration // the latest ping sent
	dec         wire.Decoder
	msg         wire.ServerMessage // the frame being handled, reused
	idx         wire.FrameIndex    // scratch for the frame's scan
	seqs        wire.Seqs          // the _seq of each row of msg

	// Timers.
	timerGen   [numTimers]uint64
	timerArmed [numTimers]bool
	gen        uint64

	// Subscriptions, in registration order.
	subs    map[string]*sub
	order   []string
	pending int // subscriptions waiting to be sent

	// Queries.
	queries map[uint64]*query
	parked  []uint64

	drain *drainState

	rep   repairState // pacer, wire ids, catch-up (pace.go, catchup.go)
	waits             // reasons, give-up policy, unexpected refusals (giveup.go, reason.go)
}

type subPhase uint8

const (
	phasePending     subPhase = iota // not on the wire
	phaseSubscribing                 // subscribe sent, no ack yet
	phaseLoading                     // initial batches in progress
	phaseLive                        // live changes flowing
)

type sub struct {
	id       string
	sql      string
	wireSQL  string
	opts     *wire.SubscriptionOptions
	sentOpts bool // the last subscribe carried options (a batch follows the ack)
	phase    subPhase
	epoch    uint64
	pos      wire.SeqID
	hasPos   bool
	everSent bool
	resuming bool
	from     wire.SeqID
	cont     Continuity
	removed  bool
	paused   bool   // held off the wire by flow control
	acked    bool   // the server acknowledged it at least once
	wait     bool   // asked to wait for credentials and a namespace
	ns       string // the namespace its SQL qualifies its tables with
	ownNS    bool   // its SQL needs no client namespace (see ownNamespace)
	subLimits
	subRepair
}

type query struct {
	id        uint64
	req       wire.SQLRequest
	token     credential.Secret
	retried   bool
	inFlight  bool
	switchNS  string
	namespace string // explicit per-query namespace
}

type drainState struct {
	outcome  DrainOutcome
	finished bool
}

// New returns an engine in StateUnauthed. Feed it Start to begin.
func New(cfg Config) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		subs:      make(map[string]*sub),
		queries:   make(map[uint64]*query),
		namespace: cfg.Namespace,
		out:       make([]Effect, 0, 8),
	}
	e.dec.MaxFrame = cfg.MaxFrame
	e.dec.MaxInflated = cfg.MaxInflated
	e.actions = map[string]func(State, Trigger){
		"parkWork": e.parkWork,
		"dial":     e.dial,
		"endConnectAttempt": func(to State, _ Trigger) {
			e.cancel(TimerConnect)
			if to != StateConnected {
				e.dropSocket(wire.CloseNormal, "connect abandoned")
			}
		},
		"armBackoff":     e.armBackoff,
		"disarmBackoff":  func(State, Trigger) { e.cancel(TimerBackoff); e.dialAfterAuth = false },
		"startKeepalive": e.startKeepalive,
		"stopKeepalive":  e.stopKeepalive,
		"beginDrain":     e.beginDrain,
		"shutdown":       e.shutdown,
		"refreshRejected": func(State, Trigger) {
			e.resolve(credential.ReasonRejected) // nothing new when one is already in flight
		},
	}
	for g := range numGuards {
		g := Guard(g)
		e.guardFuncs[g] = func(context.Context, ...any) bool { return e.guard(g) }
	}
	e.sm = e.machine()
	return e
}

// State returns the current lifecycle state.
func (e *Engine) State() State { return e.state }

// Namespace returns the current namespace ("" when none).
func (e *Engine) Namespace() string { return e.namespace }

// Epoch returns the current connection epoch (0 before the first dial).
func (e *Engine) Epoch() uint64 { return e.epoch }

// SubscriptionInfo describes one subscription as the engine sees it.
type SubscriptionInfo struct {
	ID  string
	SQL string
	// Phase is "pending", "subscribing", "loading" or "live".
	Phase string
	// Position is the largest _seq delivered; HasPosition is false before any.
	Position    wire.SeqID
	HasPosition bool
}

var phaseNames = [...]string{"pending", "subscribing", "loading", "live"}

// Subscriptions lists the registered subscriptions in registration order.
func (e *Engine) Subscriptions() []SubscriptionInfo {
	out := make([]SubscriptionInfo, 0, len(e.subs))
	for _, id := range e.order {
		s := e.subs[id]
		if s == nil || s.removed {
			continue
		}
		out = append(out, SubscriptionInfo{ID: s.id, SQL: s.sql, Phase: phaseNames[s.phase], Position: s.pos, HasPosition: s.hasPos})
	}
	return out
}

// Step feeds one input at engine time now (a monotonic offset chosen by the
// driver; it never goes backwards — an earlier value is taken as the last
// one). It returns the effects to carry out, in order, and, for an
// application command the engine refuses, the error. The returned slice is
// reused by the next Step.
func (e *Engine) Step(now time.Duration, in Input) ([]Effect, error) {
	e.out = e.out[:0]
	if now > e.now {
		e.now = now
	}
	var err error
	switch in := in.(type) {
	case FrameReceived:
		e.onFrame(in)
	case TimerFired:
		e.onTimer(in)
	case PongReceived:
		if in.Epoch == e.epoch && e.sockOpen {
			e.lastInbound = e.now
		}
	case QueryResult:
		e.onQueryResult(in)
	case CredentialsResolved:
		e.onResolved(in)
	case CredentialsFailed:
		e.onResolveFailed(in)
	case Dialed:
		e.onDialed(in)
	case DialFailed:
		if in.Epoch == e.epoch && e.dialing {
			e.dialing = false
			e.socketLost(wire.CloseAbnormal, "", in.Err)
		}
	case SocketClosed:
		e.onSocketClosed(in)
	default:
		err = e.command(in)
	}
	e.settle()
	return e.out, err
}

func (e *Engine) emit(eff Effect) { e.out = append(e.out, eff) }

// fire runs trigger t through the stateless machine.
// A row inherited from a superstate that leads back into the current state
// is refused here: stateless would silently do nothing.
func (e *Engine) fire(t Trigger) error {
	row, _, met := lookup(e.state, t, e.guard)
	if met && !row.Internal && row.To == e.state {
		return &TransitionError{From: e.state, Trigger: t}
	}
	if err := e.sm.Fire(t); err != nil {
		return err
	}
	if met && !row.Internal && row.Action != "" {
		e.actions[row.Action](row.To, t)
	}
	return nil
}

func (e *Engine) transitioned(from, to State, t Trigger) {
	e.emit(e.stateChanged(from, to, t))
}

// guard evaluates a named guard against the engine's current facts.
func (e *Engine) guard(g Guard) bool {
	switch g {
	case GuardHasCredentials:
		return e.credUsable()
	case GuardHasValidToken:
		return e.tokenValid()
	case GuardHasNamespace:
		return e.anyNSReady()
	case GuardNoSubscriptions:
		return e.liveSubs() == 0
	case GuardCanRefresh:
		return e.canRefresh()
	case GuardCannotRefresh:
		return !e.canRefresh()
	}
	return false
}

// canRefresh reports whether new credentials can come without the
// application: a provider is configured and a resolution is in flight or
// may be started (the last one did not end in a final refusal).
func (e *Engine) canRefresh() bool {
	return e.cfg.HasProvider && (e.resolving || !e.resolveBlocked)
}

func (e *Engine) credUsable() bool {
	if !e.hasCred || e.credRejected {
		return false
	}
	if e.cred.Anonymous {
		return true
	}
	return !e.cred.AccessToken.IsZero() && !e.expired()
}

func (e *Engine) tokenValid() bool {
	return e.hasCred && !e.cred.Anonymous && !e.cred.AccessToken.IsZero() && !e.credRejected && !e.expired()
}

func (e *Engine) expired() bool { return e.credExpiry != 0 && e.now >= e.credExpiry }

// --- timers -------------------------------------------------------------

func (e *Engine) arm(t Timer, at time.Duration) {
	e.gen++
	e.timerGen[t] = e.gen
	e.timerArmed[t] = true
	e.emit(SetTimer{Timer: t, At: at, Gen: e.gen})
}

func (e *Engine) cancel(t Timer) {
	if e.timerArmed[t] {
		e.timerArmed[t] = false
		e.emit(CancelTimer{Timer: t})
	}
}

func (e *Engine) onTimer(in TimerFired) {
	if int(in.Timer) >= numTimers || !e.timerArmed[in.Timer] || e.timerGen[in.Timer] != in.Gen {
		return // stale or unknown
	}
	e.timerArmed[in.Timer] = false
	switch in.Timer {
	case TimerRefresh:
		if e.state.In(StateAuthed) || e.state.In(StateConnected) { // elsewhere nothing to refresh for
			e.must(TriggerRefreshDue, nil, 0)
		}
	case TimerResolveRetry:
		if !e.resolving && e.state != StateClosed {
			e.resolve(e.refreshReason())
		}
	case TimerConnect:
		if e.state == StateConnecting {
			e.dropSocket(wire.CloseNormal, "connect timeout")
			e.socketLost(wire.CloseAbnormal, "", ErrConnectTimeout)
		}
	case TimerBackoff:
		if e.state == StateBackoff && !e.offline {
			e.redial()
		}
	case TimerPing:
		if e.sockOpen {
			e.emit(Ping{Epoch: e.epoch})
			e.pacePing()
			e.lastPing = e.now
			if !e.timerArmed[TimerPongDeadline] {
				// The deadline judges the ping that armed it: a later ping
				// sent just before it fires cannot have been answered yet.
				e.pingSentAt = e.now
				e.arm(TimerPongDeadline, e.now+e.cfg.PongTimeout)
			}
			e.arm(TimerPing, e.now+e.cfg.PingInterval)
		}
	case TimerPongDeadline:
		switch {
		case !e.sockOpen:
		case e.lastInbound < e.pingSentAt:
			e.dropSocket(wire.CloseGoingAway, "dead link")
			e.socketLost(wire.CloseAbnormal, "", ErrDeadLink)
		case e.lastPing > e.pingSentAt:
			// Answered; a later ping is out: judge it in turn, so a link
			// that dies is found within PingInterval + PongTimeout.
			e.pingSentAt = e.lastPing
			e.arm(TimerPongDeadline, e.lastPing+e.cfg.PongTimeout)
		}
	case TimerDrain:
		if e.state == StateDraining {
			e.finishDrain(true)
		}
	case TimerGiveUp:
		e.giveUpDue()
	default:
		e.onLimitTimer(in.Timer)
	}
}

// --- credentials ----------------------------------------------------------

func (e *Engine) refreshReason() credential.Reason {
	switch {
	case e.credRejected:
		return credential.ReasonRejected
	case e.hasCred:
		return credential.ReasonRefresh
	}
	return credential.ReasonInitial
}

func (e *Engine) resolve(reason credential.Reason) {
	if e.resolving || !e.cfg.HasProvider || e.state == StateClosed {
		return
	}
	e.cancel(TimerResolveRetry)
	e.resolving = true
	e.resolveAt = e.now
	e.resolveReq++
	e.emit(ResolveCredentials{Req: e.resolveReq, Reason: reason})
}

// install makes c the current credentials and re-arms the refresh timer.
func (e *Engine) install(c credential.Credentials) {
	e.cred = c
	e.hasCred = true
	e.credErr = nil
	e.credRejected = false
	e.resolveBlocked = false
	e.resolveTries = 0
	e.credExpiry = 0
	e.cancel(TimerRefresh)
	if c.Lifetime > 0 && !c.Anonymous {
		e.credExpiry = e.now + c.Lifetime
		margin := e.cfg.RefreshMargin
		if margin <= 0 {
			margin = min(c.Lifetime/10, time.Minute)
		}
		at := max(e.credExpiry-margin, e.now)
		if e.cfg.HasProvider {
			e.arm(TimerRefresh, at)
		} else {
			e.arm(TimerRefresh, e.credExpiry) // nothing to refresh with: only the expiry matters
		}
	}
	if e.state != StateClosed {
		e.must(TriggerCredentials, nil, 0)
	}
	e.credsArrived()
	e.flushParked()
}

func (e *Engine) onResolved(in CredentialsResolved) {
	if !e.resolving || in.Req != e.resolveReq {
		return
	}
	e.resolving = false
	c := in.Credentials
	switch {
	case !c.Usable():
		e.credentialsUnavailable(ErrNoCredentials, false)
		return
	case !c.Anonymous && !e.rejectedToken.IsZero() && c.AccessToken.Equal(e.rejectedToken):
		// The provider handed back the token the server just refused:
		// presenting it again would only loop.
		e.credentialsUnavailable(ErrCredentialsRejected, false)
		return
	}
	e.install(c)
	if e.dialAfterAuth && e.state == StateBackoff {
		e.dialAfterAuth = false
		e.retryNow()
	}
}

func (e *Engine) onResolveFailed(in CredentialsFailed) {
	if !e.resolving || in.Req != e.resolveReq {
		return
	}
	e.resolving = false
	err := in.Err
	if err == nil {
		err = ErrNoCredentials
	}
	e.credentialsUnavailable(err, in.Retryable)
}

// credentialsUnavailable handles a resolution that brought nothing usable.
// A still-valid token keeps serving until it expires; otherwise the client
// falls back to Unauthed with its subscriptions parked.
func (e *Engine) credentialsUnavailable(err error, retryable bool) {
	e.emit(Problem{Err: err, Recoverable: retryable})
	switch {
	case retryable && e.resolveFailed(err):
		// The give-up policy ended the retries; nothing is blocked.
	case retryable:
		e.resolveTries++
		e.arm(TimerResolveRetry, e.now+e.backoffDelay(e.resolveTries-1))
	default:
		e.resolveBlocked = true
	}
	if e.tokenValid() || (e.hasCred && e.cred.Anonymous && !e.credRejected) {
		if e.credExpiry != 0 {
			e.arm(TimerRefresh, e.credExpiry) // the hard expiry check
		}
		if e.dialAfterAuth && e.state == StateBackoff {
			e.dialAfterAuth = false
			e.retryNow()
		}
		return
	}
	e.loseCredentials(err)
}

// loseCredentials moves to Unauthed and fails the queries waiting for
// credentials: a request/response call should learn why at once rather than
// wait out its deadline while the provider is retried in the background.
// Subscriptions stay parked; they resume when credentials arrive.
func (e *Engine) loseCredentials(cause error) {
	e.credErr = cause
	if e.state.In(StateAuthed) || e.state.In(StateConnected) {
		e.must(TriggerCredentialsLost, cause, 0)
	}
	e.failParked(credFailure(cause))
	e.endIfFinal(cause)
}

// internal runs the action of an internal transition.
func (e *Engine) internal(t Trigger) {
	if t != TriggerRefreshDue {
		return
	}
	if e.expired() {
		if !e.resolving {
			e.credRejected = true
			if e.cfg.HasProvider && !e.resolveBlocked {
				e.resolve(credential.ReasonRejected)
				return
			}
			e.loseCredentials(credential.ErrTokenExpired)
		}
		return
	}
	if !e.resolveBlocked {
		e.resolve(credential.ReasonRefresh)
	}
	if e.credExpiry != 0 {
		e.arm(TimerRefresh, e.credExpiry)
	}
}

// --- socket ---------------------------------------------------------------

func (e *Engine) dial(State, Trigger) {
	e.epoch++
	e.sockOpen = false
	e.closing = false
	e.dialing = true
	e.dialAt = e.now
	e.emit(Dial{Epoch: e.epoch})
	e.arm(TimerConnect, e.now+e.cfg.ConnectTimeout)
}

func (e *Engine) onDialed(in Dialed) {
	if in.Epoch != e.epoch || !e.dialing || e.state != StateConnecting {
		if in.Epoch != e.epoch || e.closing {
			e.emit(CloseSocket{Epoch: in.Epoch, Code: wire.CloseNormal, Reason: "stale connection"})
		}
		return
	}
	e.dialing = false
	e.sockOpen = true
	e.announced = false
	e.lastInbound = e.now
	e.emit(Authenticate{Epoch: e.epoch, Token: e.cred.AccessToken})
}

// dropSocket asks the driver to close the current socket, if any.
func (e *Engine) dropSocket(code int, reason string) {
	if (e.sockOpen || e.dialing) && !e.closing {
		e.closing = true
		e.emit(CloseSocket{Epoch: e.epoch, Code: code, Reason: reason})
	}
	e.sockOpen = false
	e.dialing = false
	e.unwire()
}

// hangUp closes the socket at the client's own request and, when one was
// open, tells the application: an asked-for disconnect is reported like a
// lost one, with its code and reason. recoverable says whether the client
// will open a socket again by itself.
func (e *Engine) hangUp(code int, reason string, recoverable bool) {
	wasOpen := e.announced
	e.announced = false
	e.dropSocket(code, reason)
	if wasOpen {
		e.emit(ConnectionEvent{Epoch: e.epoch, Code: code, Reason: reason, Recoverable: recoverable})
	}
}

// unwire marks every subscription as off the wire, to be resent.
func (e *Engine) unwire() {
	for _, id := range e.order {
		s := e.subs[id]
		if s != nil && !s.removed && s.phase != phasePending {
			s.phase = phasePending
			if !s.paused {
				e.pending++
			}
		}
	}
}

func (e *Engine) onSocketClosed(in SocketClosed) {
	if in.Epoch != e.epoch {
		return
	}
	wasOpen := e.sockOpen || e.dialing
	e.sockOpen = false
	e.dialing = false
	if e.closing || !wasOpen {
		e.closing = false
		return
	}
	if in.Code == wire.ClosePolicy {
		e.authRejected(in.Code, in.Reason)
		return
	}
	e.socketLost(in.Code, in.Reason, nil)
}

// socketLost handles a socket that went away without our asking.
func (e *Engine) socketLost(code int, reason string, err error) {
	e.sockOpen = false
	e.dialing = false
	e.unwire()
	recoverable := e.state != StateDraining && e.state != StateClosed
	switch {
	case e.announced:
		e.announced = false
		e.emit(ConnectionEvent{Epoch: e.epoch, Code: code, Reason: reason, Err: err, Recoverable: recoverable})
	case err != nil:
		e.emit(Problem{Err: err, Recoverable: recoverable}) // an attempt that never connected
	}
	switch {
	case e.state == StateConnecting || e.state.In(StateConnected):
		if e.connectFailed(e.state == StateConnecting, socketReason(code, reason, err)) {
			return // the give-up policy ended the attempts
		}
		e.must(TriggerSocketLost, socketReason(code, reason, err), code)
	case e.state == StateDraining:
		e.abandonLoads()
	}
}

func (e *Engine) authRejected(code int, reason string) {
	if e.announced {
		e.announced = false
		e.emit(ConnectionEvent{Epoch: e.epoch, Code: code, Reason: reason, Err: ErrCredentialsRejected, Recoverable: e.cfg.HasProvider})
	} else {
		e.emit(Problem{Err: ErrCredentialsRejected, Recoverable: e.cfg.HasProvider})
	}
	if e.state == StateDraining {
		e.dropSocket(wire.CloseNormal, "")
		e.abandonLoads()
		return
	}
	e.credRejected = true
	e.rejectedToken = e.cred.AccessToken
	if e.state == StateConnecting || e.state.In(StateConnected) {
		e.must(TriggerAuthRejected, ErrCredentialsRejected, code)
	}
}

// parkWork is Unauthed's entry: close the socket, park subscriptions, and
// ask for new credentials (after a growing delay when refusals repeat).
// When the server refused the token and only the application can bring a
// new one, queries waiting for credentials fail now and new ones fail at
// once with ErrCredentialsRejected, until SetCredentials.
func (e *Engine) parkWork(_ State, t Trigger) {
	e.hangUp(wire.CloseNormal, "credentials unavailable", e.cfg.HasProvider)
	e.cancel(TimerRefresh)
	switch t {
	case TriggerAuthRejected:
		e.rejections++
		if !e.cfg.HasProvider {
			e.refusedForGood()
			return
		}
		if e.rejections > 1 && !e.resolveBlocked {
			e.arm(TimerResolveRetry, e.now+e.backoffDelay(e.rejections-2))
			return
		}
		e.resolve(credential.ReasonRejected)
	case TriggerTokenRefused:
		e.refusedForGood()
	}
}

// refusedForGood records that the server refused the credentials and that
// nothing but the application can replace them.
func (e *Engine) refusedForGood() {
	e.credErr = ErrCredentialsRejected
	e.failParked(credFailure(ErrCredentialsRejected))
	e.endIfFinal(ErrCredentialsRejected)
}

func (e *Engine) armBackoff(State, Trigger) {
	d := e.nextBackoff()
	e.attempts++
	e.arm(TimerBackoff, e.now+d)
}

// redial leaves Backoff: refresh first when the token is due or the
// provider wants to be asked on every reconnect, then dial.
func (e *Engine) redial() {
	if e.cfg.HasProvider && (e.cfg.ResolveOnReconnect || !e.tokenValid()) && !e.resolveBlocked {
		e.dialAfterAuth = true
		reason := credential.ReasonReconnect
		if !e.tokenValid() {
			reason = e.refreshReason()
		}
		e.resolve(reason)
		return
	}
	if err := e.fire(TriggerRetry); err != nil {
		e.loseCredentials(credential.ErrTokenExpired)
	}
}

// backoffDelay draws the jittered delay for attempt n.
func (e *Engine) backoffDelay(n int) time.Duration {
	lo, hi := e.cfg.BackoffMin, e.cfg.BackoffMax
	ceil := hi
	if n < 30 && lo<<(n+1) < hi && lo<<(n+1) > 0 {
		ceil = lo << (n + 1)
	}
	if ceil <= lo {
		return lo
	}
	return lo + time.Duration(e.rng.Int64N(int64(ceil-lo)))
}

func (e *Engine) startKeepalive(State, Trigger) {
	e.attempts = 0
	e.streakOver()
	e.rejections = 0
	e.rejectedToken = credential.Secret{}
	e.lastInbound = e.now
	e.arm(TimerPing, e.now+e.cfg.PingInterval)
	e.announced = true
	e.emit(ConnectionEvent{Epoch: e.epoch, Connected: true, Recoverable: true})
}

func (e *Engine) stopKeepalive(to State, t Trigger) {
	e.cancel(TimerPing)
	e.cancel(TimerPongDeadline)
	switch to {
	case StateDraining, StateBackoff:
		// Draining keeps the socket for loads in progress; Backoff has lost it.
	default:
		e.hangUp(wire.CloseNormal, "client disconnect", to == StateUnauthed && e.cfg.HasProvider)
	}
}

func (e *Engine) onFrame(in FrameReceived) {
	if in.Epoch != e.epoch || !e.sockOpen {
		return
	}
	e.lastInbound = e.now
	payload, err := e.dec.Payload(in.Binary, in.Data)
	if err != nil {
		e.protocolViolation(err)
		return
	}
	m := &e.msg
	if err := e.decode(in, payload, m); err != nil {
		if errors.Is(err, wire.ErrUnknownType) {
			e.emit(Problem{Err: err, Recoverable: true}) // newer server: ignore what we do not know
			return
		}
		e.protocolViolation(err)
		return
	}
	switch m.Type {
	case wire.TypeAuthSuccess:
		if e.state == StateConnecting {
			e.must(TriggerAuthOK, nil, 0)
		}
	case wire.TypeAuthError:
		e.sockOpen = false
		e.closing = true // the server closes with 1008 next; that close is expected
		e.emit(CloseSocket{Epoch: e.epoch, Code: wire.CloseNormal, Reason: "authentication failed"})
		e.unwire()
		e.authRejected(wire.ClosePolicy, m.Message)
	case wire.TypeSubscriptionAck, wire.TypeInitialDataBatch, wire.TypeChange:
		s := e.subByWire(m.SubscriptionID)
		if s == nil || s.removed || s.epoch != e.epoch || s.phase == phasePending {
			return // unsubscribed, or from before a resubscribe
		}
		if err := e.onSubMessage(s, m); err != nil {
			e.protocolViolation(err)
		}
	case wire.TypeError:
		if e.onWireError(m) {
			return
		}
		serr := &ServerError{Subscription: m.SubscriptionID, Code: m.Code, Message: m.Message}
		if s := e.subByWire(m.SubscriptionID); s != nil && !s.removed && s.epoch == e.epoch && s.phase != phasePending {
			e.removeSub(s)
			e.emit(Deliver{Sub: s.id, Event: Event{Kind: EventError, Err: serr, Seq: s.pos}})
			return
		}
		e.emit(Problem{Err: serr, Recoverable: true})
	}
}

// decode decodes a frame's payload into m, noting each row's _seq in e.seqs
// from the same scan, or from the index the input carries.
func (e *Engine) decode(in FrameReceived, payload []byte, m *wire.ServerMessage) error {
	if in.Index != nil && !in.Binary {
		err := wire.DecodeServerIndexed(payload, in.Index, m, &e.seqs)
		if !errors.Is(err, wire.ErrBadIndex) {
			return err
		}
	}
	return wire.DecodeServerSeqs(payload, m, &e.idx, &e.seqs)
}

// protocolViolation reports bad server input and reconnects: the resume
// from the last delivered _seq recovers whatever the bad frame held.
func (e *Engine) protocolViolation(err error) {
	err = errors.Join(ErrProtocol, err)
	e.emit(Problem{Err: err, Recoverable: true})
	e.dropSocket(1002, "protocol error")
	e.socketLost(1002, "protocol error", err)
}

// --- subscriptions ----------------------------------------------------------

func (e *Engine) liveSubs() int { return len(e.subs) }

func (e *Engine) onSubMessage(s *sub, m *wire.ServerMessage) error {
	switch m.Type {
	case wire.TypeSubscriptionAck:
		if s.phase != phaseSubscribing {
			return nil // a duplicate ack changes nothing
		}
		s.acked = true
		ev := Event{Kind: EventSubscribed, Schema: m.Schema, Seq: s.pos}
		e.onAcked(s, s.resuming)
		if s.resuming {
			ev.Kind, ev.From, ev.Continuity = EventResumed, s.from, s.cont
			s.resuming = false
			if ev.Continuity == ContinuityBroken {
				ev.Err = &GapError{Subscription: s.id, Reason: "no position to resume from and no snapshot to reload"}
			}
		}
		if s.sentOpts {
			s.phase = phaseLoading
		} else {
			s.phase = phaseLive
		}
		e.emit(Deliver{Sub: s.id, Event: ev})
	case wire.TypeInitialDataBatch:
		if s.phase != phaseLoading {
			return nil
		}
		bc := m.BatchControl
		rows, err := e.filterRows(s, m.Rows)
		if err != nil {
			return err
		}
		last := !bc.HasMore
		s.asked = false
		e.onSnapshotRows(s, len(rows))
		if len(rows) > 0 || last {
			e.emit(Deliver{Sub: s.id, Event: Event{Kind: EventSnapshot, Rows: rows, Seq: s.pos, Batch: bc.BatchNum, Last: last}})
		}
		if !last {
			next := s.pos
			if bc.LastSeqID != nil {
				next = *bc.LastSeqID
			}
			e.askNextBatch(s, next)
			return nil
		}
		s.phase = phaseLive
		e.onLoaded(s)
		if e.drain != nil {
			e.drain.outcome.LoadsCompleted++
			e.endSub(s, ErrDraining)
		}
	case wire.TypeChange:
		if e.burstSeen() {
			e.overflowRisk() // the server's queue may have overflowed
			if s.phase != phaseLive || s.skipping {
				return nil // the round's replay brings it, after what was dropped
			}
		}
		if s.sentOpts && s.phase != phaseLive {
			// A subscribe with options makes the server hold changes back
			// until the last snapshot batch is out. A change before that
			// belongs to an earlier incarnation of this id on the same
			// socket (paused and resumed): the replay covers it, and taking
			// it would move the position past rows the replay still owes.
			return nil
		}
		var ev Event
		var primary []wire.Row
		switch m.ChangeType {
		case wire.ChangeInsert:
			ev.Kind, primary = EventInsert, m.Rows
		case wire.ChangeUpdate:
			ev.Kind, primary = EventUpdate, m.Rows
		default:
			ev.Kind, primary = EventDelete, m.OldValues
		}
		if len(primary) == 1 { // what KalamDB sends: one row per change
			seq, ok, err := e.rowSeq(ev.Kind == EventDelete, 0, primary[0])
			if err != nil {
				return err
			}
			if ok {
				if s.hasPos && seq <= s.pos {
					return nil // replayed at or below our position
				}
				ev.Rows, ev.OldValues = m.Rows, m.OldValues
				if e.holdChange(s, seq, ev) {
					return nil // part of the flush after a load, or left to a catch-up's replay
				}
				s.pos, s.hasPos = seq, true
			}
			ev.Rows, ev.OldValues, ev.Seq = m.Rows, m.OldValues, s.pos
			e.emit(Deliver{Sub: s.id, Event: ev})
			return nil
		}
		return e.multiRowChange(s, ev, m)
	}
	return nil
}

// rowSeq reads the _seq of row i of the current frame's rows (old=false)
// or old_values (old=true), r, from what the decoder noted, or by scanning
// r when it noted nothing. KalamDB's Snowflake ids are positive: zero or a
// negative value is bad server input, not a position.
func (e *Engine) rowSeq(old bool, i int, r wire.Row) (wire.SeqID, bool, error) {
	seq, ok, err, known := e.seqs.Row(old, i)
	if !known {
		seq, ok, err = wire.RowSeq(r)
	}
	if err == nil && ok && seq <= 0 {
		return 0, false, &wire.DecodeError{Reason: "_seq must be positive, got " + seq.String()}
	}
	return seq, ok, err
}

// multiRowChange splits a change carrying several rows into one event per
// row, each filtered by its own _seq.
func (e *Engine) multiRowChange(s *sub, ev Event, m *wire.ServerMessage) error {
	n := max(len(m.Rows), len(m.OldValues))
	if e.flushDone(s) {
		return nil // left to a catch-up, with the flush before it
	}
	for i := range n {
		one := ev
		one.Rows, one.OldValues = nil, nil
		if i < len(m.Rows) {
			one.Rows = m.Rows[i : i+1]
		}
		if i < len(m.OldValues) {
			one.OldValues = m.OldValues[i : i+1]
		}
		row := one.OldValues
		if ev.Kind != EventDelete {
			row = one.Rows
		}
		if len(row) == 0 {
			continue
		}
		seq, ok, err := e.rowSeq(ev.Kind == EventDelete, i, row[0])
		if err != nil {
			return err
		}
		if ok {
			if s.hasPos && seq <= s.pos {
				continue
			}
			if e.lateChange(s, seq) {
				return nil // the catch-up's replay brings it and what follows
			}
			s.pos, s.hasPos = seq, true
		}
		one.Seq = s.pos
		e.emit(Deliver{Sub: s.id, Event: one})
	}
	return nil
}

// filterRows drops snapshot rows at or below the subscription's position and
// advances it. It filters in place only when something must go.
func (e *Engine) filterRows(s *sub, rows []wire.Row) ([]wire.Row, error) {
	out := rows
	copied := false
	for i, r := range rows {
		seq, ok, err := e.rowSeq(false, i, r)
		if err != nil {
			return nil, err
		}
		if ok && s.hasPos && seq <= s.pos {
			if !copied {
				out = append(make([]wire.Row, 0, len(rows)), rows[:i]...)
				copied = true
			}
			continue
		}
		if ok {
			s.pos, s.hasPos = seq, true
		}
		if copied {
			out = append(out, r)
		}
	}
	return out, nil
}

// sendPending puts parked subscriptions on the wire, in registration order.
func (e *Engine) sendPending() {
	for _, id := range e.order {
		if e.pending == 0 {
			return
		}
		s := e.subs[id]
		if s == nil || s.removed || s.phase != phasePending || s.paused || !e.nsReady(s) {
			continue
		}
		if s.wireSQL == "" {
			s.wireSQL = qualify(s.sql, e.namespace)
		}
		opts := s.opts
		s.resuming, s.cont, s.from = false, ContinuityFull, 0
		if s.everSent {
			s.resuming = true
			switch {
			case s.hasPos:
				o := wire.SubscriptionOptions{}
				if s.opts != nil {
					o.BatchSize = s.opts.BatchSize
				}
				from := s.pos
				o.From = &from
				opts = &o
				s.from, s.cont = s.pos, ContinuityNoDeletes
			case s.opts == nil:
				s.cont = ContinuityBroken
			}
			if s.catching && s.cont == ContinuityFull {
				s.cont = ContinuityNoDeletes // a catch-up: the server may have dropped deletes
			}
			s.catching = false
		}
		e.assignWire(s)
		data, err := wire.Encode(wire.ClientMessage{Type: wire.TypeSubscribe, Subscription: &wire.SubscriptionRequest{ID: s.wire, SQL: s.wireSQL, Options: opts}})
		if err != nil {
			continue
		}
		s.sentOpts = opts != nil
		s.phase = phaseSubscribing
		s.epoch = e.epoch
		s.everSent = true
		e.pending--
		e.sendFrame(outFrame{kind: frameSubscribe, s: s, wire: s.wire, data: data})
	}
}

func (e *Engine) removeSub(s *sub) {
	if s.phase == phasePending && !s.paused {
		e.pending--
	}
	s.removed = true
	e.forgetWire(s)
	delete(e.subs, s.id)
	if i := slices.Index(e.order, s.id); i >= 0 {
		e.order = slices.Delete(e.order, i, i+1)
	}
}

// endSub removes s, telling the server when s is on the wire, and delivers
// its final event.
func (e *Engine) endSub(s *sub, cause error) {
	e.unsubscribeWire(s)
	e.removeSub(s)
	if e.drain != nil && cause == ErrDraining {
		e.drain.outcome.Subscriptions++
	}
	e.emit(Deliver{Sub: s.id, Event: Event{Kind: EventEnded, Err: cause, Seq: s.pos}})
}

// --- queries ----------------------------------------------------------------

func (e *Engine) sendQuery(q *query) {
	q.inFlight = true
	q.token = e.cred.AccessToken
	if e.cred.Anonymous {
		q.token = credential.Secret{}
	}
	q.req.NamespaceID = q.namespace
	if q.req.NamespaceID == "" {
		q.req.NamespaceID = e.namespace
	}
	e.emit(HTTPQuery{ID: q.id, Token: q.token, Request: q.req})
}

func (e *Engine) flushParked() {
	if len(e.parked) == 0 || !e.credUsable() {
		return
	}
	ids := e.parked
	e.parked = nil
	for _, id := range ids {
		if q := e.queries[id]; q != nil && !q.inFlight {
			e.sendQuery(q)
		}
	}
}

func (e *Engine) failParked(err error) {
	ids := e.parked
	e.parked = nil
	for _, id := range ids {
		if q := e.queries[id]; q != nil && !q.inFlight {
			delete(e.queries, id)
			e.emit(QueryDone{ID: id, Err: err})
		}
	}
}

func (e *Engine) onQueryResult(in QueryResult) {
	q := e.queries[in.ID]
	if q == nil || !q.inFlight {
		return
	}
	q.inFlight = false
	if in.Err.authFailure() {
		e.tokenRefused(q.token)
		if !q.retried && e.cfg.HasProvider && e.state != StateDraining && e.credentialsObtainable() {
			// Retry once, with the token that replaces the refused one:
			// now when it is already in, else when it arrives.
			q.retried = true
			e.parked = append(e.parked, q.id)
			e.flushParked()
			if !q.inFlight {
				e.askNow()
			}
			return
		}
	}
	delete(e.queries, q.id)
	if e.drain != nil {
		e.drain.outcome.QueriesCompleted++
	}
	if in.Err != nil {
		e.emit(QueryDone{ID: q.id, Err: in.Err})
		return
	}
	if q.switchNS != "" {
		e.namespace = q.switchNS
	}
	e.emit(QueryDone{ID: q.id, Response: in.Response})
}

// tokenRefused handles a 401 to a query sent with tok. A refusal of the
// current credentials marks them refused, so that nothing presents them
// again (no query, no dial, no authenticate), and fires TokenRefused: the
// table decides between asking the provider and giving the token up. A
// refusal of a token already replaced, or already refused, changes nothing.
func (e *Engine) tokenRefused(tok credential.Secret) {
	if !e.hasCred || !tok.Equal(e.cred.AccessToken) {
		return
	}
	if e.credRejected && (tok.IsZero() || e.rejectedToken.Equal(tok)) {
		return // known already: its transition has run
	}
	// Possibly marked already by the clock (expired): the refusal still
	// fires, so that a dial in flight is abandoned rather than
	// authenticated with a token the server has now refused.
	if !tok.IsZero() {
		e.rejectedToken = tok
	}
	e.credRejected = true
	if e.state.In(StateAuthed) || e.state.In(StateConnected) { // elsewhere marking it is all
		e.must(TriggerTokenRefused, ErrCredentialsRejected, 0)
	}
}

// --- drain and close ----------------------------------------------------------

func (e *Engine) beginDrain(State, Trigger) {
	e.drain = &drainState{}
	e.cancel(TimerRefresh)
	e.cancel(TimerBackoff)
	if e.sockOpen {
		e.arm(TimerPing, e.now+e.cfg.PingInterval)
	} else if e.dialing {
		e.dropSocket(wire.CloseNormal, "client draining")
	}
	for _, id := range slices.Clone(e.order) {
		s := e.subs[id]
		if s == nil {
			continue
		}
		loading := e.sockOpen && s.epoch == e.epoch && (s.phase == phaseSubscribing || s.phase == phaseLoading)
		if !loading {
			e.endSub(s, ErrDraining)
		}
	}
}

// abandonLoads ends the loads a drain was waiting for once the socket is gone.
func (e *Engine) abandonLoads() {
	for _, id := range slices.Clone(e.order) {
		if s := e.subs[id]; s != nil {
			e.drain.outcome.LoadsAbandoned++
			e.endSub(s, ErrDraining)
		}
	}
}

func (e *Engine) drainBusy() bool { return len(e.queries) > 0 || len(e.subs) > 0 }

func (e *Engine) finishDrain(timedOut bool) {
	d := e.drain
	if d == nil || d.finished {
		return
	}
	d.outcome.TimedOut = timedOut
	for _, id := range e.sortedQueryIDs() {
		d.outcome.QueriesAbandoned++
		delete(e.queries, id)
		e.emit(QueryDone{ID: id, Err: ErrDrainTimeout})
	}
	e.parked = nil
	for _, id := range slices.Clone(e.order) {
		if s := e.subs[id]; s != nil {
			d.outcome.LoadsAbandoned++
			e.endSub(s, ErrDrainTimeout)
		}
	}
	d.finished = true
	e.cancel(TimerDrain)
	e.hangUp(wire.CloseNormal, "client drained", false)
	e.emit(DrainDone{Outcome: d.outcome})
	var why error
	if timedOut {
		why = ErrDrainTimeout
	}
	e.must(TriggerDrained, why, 0)
}

func (e *Engine) shutdown(State, Trigger) {
	for t := range numTimers {
		e.cancel(Timer(t))
	}
	e.hangUp(wire.CloseNormal, "client closed", false)
	for _, id := range e.sortedQueryIDs() {
		delete(e.queries, id)
		if e.drain != nil {
			e.drain.outcome.QueriesAbandoned++
		}
		e.emit(QueryDone{ID: id, Err: ErrClosed})
	}
	e.parked = nil
	for _, id := range slices.Clone(e.order) {
		if s := e.subs[id]; s != nil {
			e.removeSub(s)
			e.emit(Deliver{Sub: s.id, Event: Event{Kind: EventEnded, Err: ErrClosed, Seq: s.pos}})
		}
	}
	if e.drain != nil && !e.drain.finished {
		e.drain.finished = true
		e.drain.outcome.Aborted = true
		e.emit(DrainDone{Outcome: e.drain.outcome})
	}
	e.resolving = false
}

func (e *Engine) sortedQueryIDs() []uint64 {
	ids := make([]uint64, 0, len(e.queries))
	for id := range e.queries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// --- settle -------------------------------------------------------------------

// wantSocket reports whether the socket should be open.
func (e *Engine) wantSocket() bool {
	return !e.hold && (e.wantConnect || e.cfg.Eager || len(e.subs) > 0)
}

// settle moves the machine toward what the current facts call for: resolve
// credentials, connect, subscribe, go Live or back, finish a drain. It runs
// after every input and fires at most a few triggers.
func (e *Engine) settle() {
	for range 4 {
		if !e.settleOnce() {
			return
		}
	}
}

func (e *Engine) settleOnce() bool {
	// Timers can fire late (a suspended laptop, a hidden browser tab): an
	// expiry that has passed is acted on now, whatever the timer says.
	if e.credExpiry != 0 && e.now >= e.credExpiry && !e.resolving && !e.credRejected &&
		(e.state.In(StateAuthed) || e.state.In(StateConnected)) {
		e.must(TriggerRefreshDue, credential.ErrTokenExpired, 0)
		return true
	}
	switch e.state {
	case StateUnauthed:
		if e.started && !e.resolving && !e.resolveBlocked && !e.gaveUp && e.cfg.HasProvider && !e.timerArmed[TimerResolveRetry] {
			e.resolve(e.refreshReason())
		}
	case StateAuthed:
		if e.wantSocket() && e.tokenValid() {
			return e.fire(TriggerConnect) == nil
		}
		if e.wantSocket() && !e.resolving && e.hasCred && !e.cred.Anonymous && !e.tokenValid() {
			e.must(TriggerRefreshDue, nil, 0)
		}
	case StateConnected, StateLive:
		if !e.wantSocket() {
			return e.fire(TriggerDisconnect) == nil
		}
		if e.pending > 0 && e.fire(TriggerSubscribe) == nil {
			e.sendPending()
			return e.state == StateConnected
		}
		if e.state == StateLive && len(e.subs) == 0 {
			return e.fire(TriggerUnsubscribeAll) == nil
		}
	case StateDraining:
		if !e.drainBusy() {
			e.finishDrain(false)
			return false
		}
		if !e.sockOpen {
			e.abandonLoads()
			return true
		}
	}
	return false
}
