package fsm

import (
	"errors"
	"strings"

	"github.com/kalamgo/kalam/auth/credential"
	"github.com/kalamgo/kalam/transport/wire"
)

// ErrInvalidSubscriptionID: a subscription id is empty.
var ErrInvalidSubscriptionID = errors.New("kalam: invalid subscription id")

// command applies an application command and returns its refusal, if any.
func (e *Engine) command(in Input) error {
	if e.state == StateClosed {
		if _, ok := in.(Close); ok {
			return nil // closing twice is harmless
		}
		return ErrClosed
	}
	switch in := in.(type) {
	case Start:
		if e.started {
			return nil
		}
		e.started = true
		if !e.hasCred && e.cfg.HasProvider {
			e.resolve(e.refreshReason())
		}
	case SetCredentials:
		c := in.Credentials
		if !c.Usable() {
			return ErrNoCredentials
		}
		if !c.Anonymous && !e.rejectedToken.IsZero() && c.AccessToken.Equal(e.rejectedToken) {
			return ErrCredentialsRejected
		}
		e.started = true
		if e.resolving {
			// What the application pushes wins over an answer still on its way.
			e.resolving = false
			e.resolveReq++
		}
		e.install(c)
		if e.dialAfterAuth && e.state == StateBackoff {
			// A redial was waiting for the answer just superseded.
			e.dialAfterAuth = false
			e.retryNow()
		}
	case FreshAuth:
		if !e.cfg.HasProvider {
			return ErrNoCredentials
		}
		e.started = true
		e.resolveBlocked = false
		e.freshRound()
		e.resolve(e.refreshReason())
	case SetNamespace:
		if !validIdent(in.Namespace) {
			return ErrInvalidNamespace
		}
		e.namespace = in.Namespace
	case Connect:
		if e.state == StateDraining {
			return ErrDraining
		}
		if !e.credentialsObtainable() {
			return &TransitionError{From: e.state, Trigger: TriggerConnect, Guard: GuardHasValidToken.String()}
		}
		e.freshRound()
		e.started = true
		e.wantConnect, e.hold = true, false
		if e.state == StateBackoff && e.tokenValid() {
			return e.fire(TriggerConnect) // skip the rest of the delay
		}
	case Disconnect:
		if e.state == StateDraining {
			return ErrDraining
		}
		e.wantConnect, e.hold = false, true
		e.streakOver() // the application keeps the socket closed: nothing is failing
		if e.state.In(StateAuthed) && e.state != StateAuthed || e.state.In(StateConnected) {
			return e.fire(TriggerDisconnect)
		}
	case Subscribe:
		return e.subscribe(in)
	case Unsubscribe:
		s := e.subs[in.ID]
		if s == nil {
			return ErrUnknownSubscription
		}
		e.endSub(s, nil)
	case Pause:
		return e.pause(in)
	case Resume:
		s := e.subs[in.ID]
		if s == nil {
			return ErrUnknownSubscription
		}
		if s.paused {
			s.paused = false
			if s.phase == phasePending {
				e.pending++
			}
		}
	case Query:
		return e.query(in)
	case Drain:
		if e.state == StateDraining {
			return nil // already draining: the first deadline stands
		}
		if err := e.fire(TriggerDrain); err != nil {
			return err
		}
		e.arm(TimerDrain, max(in.Deadline, e.now))
	case Close:
		return e.fire(TriggerClose)
	case NetworkChanged:
		e.networkChanged(in.Online)
	case Wake:
		if e.sockOpen && e.state != StateConnecting {
			// Probe the socket now: a dead link shows within the pong timeout.
			e.pingSentAt, e.lastPing = e.now, e.now
			e.emit(Ping{Epoch: e.epoch})
			e.pacePing()
			e.arm(TimerPongDeadline, e.now+e.cfg.PongTimeout)
		}
	default:
		return errors.New("kalam: unknown input")
	}
	return nil
}

// credentialsObtainable reports whether credentials are held or can be had
// without the application's help.
func (e *Engine) credentialsObtainable() bool {
	return e.tokenValid() || e.resolving || (e.cfg.HasProvider && !e.resolveBlocked)
}

func (e *Engine) subscribe(in Subscribe) error {
	switch {
	case e.state == StateDraining:
		return ErrDraining
	case strings.TrimSpace(in.ID) == "":
		return ErrInvalidSubscriptionID
	case e.subs[in.ID] != nil:
		return ErrDuplicateSubscription
	case strings.TrimSpace(in.SQL) == "":
		return ErrEmptySQL
	}
	ns, qualified := ownNamespace(in.SQL)
	switch {
	case e.namespace == "" && !qualified && !in.Wait:
		return &TransitionError{From: e.state, Trigger: TriggerSubscribe, Guard: GuardHasNamespace.String()}
	case e.credErr != nil && !e.credUsable() && !in.Wait:
		return credFailure(e.credErr)
	case !e.credentialsObtainable() && !in.Wait:
		return &TransitionError{From: e.state, Trigger: TriggerSubscribe, Guard: GuardHasValidToken.String()}
	}
	e.freshRound()
	e.started = true
	e.hold = false
	s := &sub{id: in.ID, sql: in.SQL, opts: in.Options, wait: in.Wait, ns: ns, ownNS: qualified}
	if from, ok := in.Options.ResumeFrom(); ok {
		s.pos, s.hasPos = from, true // rows at or below a caller's starting point are replays too
	}
	e.subs[s.id] = s
	e.order = append(e.order, s.id)
	e.pending++
	return nil
}

func (e *Engine) query(in Query) error {
	switch {
	case e.state == StateDraining:
		return ErrDraining
	case e.queries[in.ID] != nil:
		return ErrDuplicateQuery
	case strings.TrimSpace(in.SQL) == "":
		return ErrEmptySQL
	case in.Namespace != "" && !validIdent(in.Namespace):
		return ErrInvalidNamespace
	}
	e.freshRound()
	q := &query{id: in.ID, namespace: in.Namespace}
	q.req.SQL = in.SQL
	q.req.Params = in.Params
	if ns, ok := useStatement(in.SQL); ok {
		q.switchNS = ns
	}
	switch {
	case e.credUsable():
		e.queries[q.id] = q
		e.sendQuery(q)
	case e.credErr != nil:
		return credFailure(e.credErr)
	case e.credentialsObtainable():
		e.started = true
		e.queries[q.id] = q
		e.parked = append(e.parked, q.id)
		if e.hasCred && !e.cred.Anonymous && !e.resolving && e.state != StateUnauthed {
			e.must(TriggerRefreshDue, credential.ErrTokenExpired, 0) // token past expiry: refresh before sending
		}
		e.askNow() // never wait out a resolution's retry delay
	default:
		return ErrNoCredentials
	}
	return nil
}

// pause takes s off the wire and rewinds it to the last position its
// consumer holds; the replay after Resume fills the gap.
func (e *Engine) pause(in Pause) error {
	s := e.subs[in.ID]
	if s == nil {
		return ErrUnknownSubscription
	}
	if s.paused {
		return nil
	}
	e.unsubscribeWire(s)
	if s.phase == phasePending {
		e.pending--
	}
	s.phase = phasePending
	s.paused = true
	s.everSent = true
	if in.HasPosition && (!s.hasPos || in.Position < s.pos) {
		s.pos, s.hasPos = in.Position, true
	} else if !in.HasPosition {
		s.pos, s.hasPos = 0, false
	}
	return nil
}

func (e *Engine) networkChanged(online bool) {
	if online == !e.offline {
		return
	}
	e.offline = !online
	if !online {
		if e.sockOpen || e.dialing {
			e.dropSocket(wire.CloseGoingAway, "network offline")
			e.socketLost(wire.CloseAbnormal, "", ErrDeadLink)
		}
		return
	}
	if e.state == StateBackoff {
		e.cancel(TimerBackoff)
		e.redial()
	}
}
