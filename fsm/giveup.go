package fsm

import (
	"errors"
	"slices"
	"strconv"
	"time"
)

// ErrGaveUp matches every *GiveUpError.
var ErrGaveUp = errors.New("kalam: gave up")

// GiveUpError is how waiting work ends when the give-up policy
// (Config.GiveUpAttempts, Config.GiveUpAfter) stops the retries: what was
// tried, for how long, and the last failure.
type GiveUpError struct {
	// Attempts is the number of failed connection and credential attempts
	// in a row.
	Attempts int
	// Elapsed runs from the start of the first of them to the give-up.
	Elapsed time.Duration
	// Last is the last attempt's failure (nil when none had failed yet).
	Last error
}

func (e *GiveUpError) Error() string {
	s := "kalam: gave up after " + strconv.Itoa(e.Attempts) + " failed attempt"
	if e.Attempts != 1 {
		s += "s"
	}
	s += " in " + e.Elapsed.Round(time.Millisecond).String()
	if e.Last != nil {
		s += " (last: " + e.Last.Error() + ")"
	}
	return s + ": the server stays unreachable; new work tries again"
}

// Unwrap makes a GiveUpError match ErrGaveUp and its last failure.
func (e *GiveUpError) Unwrap() []error {
	if e.Last == nil {
		return []error{ErrGaveUp}
	}
	return []error{ErrGaveUp, e.Last}
}

func (e *Engine) givesUp() bool { return e.cfg.GiveUpAttempts > 0 || e.cfg.GiveUpAfter > 0 }

// failed counts one failed attempt that began at began and reports whether
// the policy gives up on it (it then has).
func (e *Engine) failed(began time.Duration, cause error) bool {
	if !e.givesUp() {
		return false
	}
	e.streak(began)
	e.failures++
	e.lastFailure = cause
	if e.cfg.GiveUpAttempts > 0 && e.failures >= e.cfg.GiveUpAttempts ||
		e.cfg.GiveUpAfter > 0 && e.now >= e.tryingSince+e.cfg.GiveUpAfter {
		e.giveUp()
		return true
	}
	return false
}

// streak starts a run of failures at began, unless one is under way, and
// arms the give-up window.
func (e *Engine) streak(began time.Duration) {
	if e.trying || !e.givesUp() {
		return
	}
	e.trying, e.tryingSince, e.failures, e.lastFailure = true, began, 0, nil
	if e.cfg.GiveUpAfter > 0 {
		e.arm(TimerGiveUp, max(began+e.cfg.GiveUpAfter, e.now))
	}
}

// streakOver ends a run of failures: the socket came up, or credentials
// arrived while no socket is wanted.
func (e *Engine) streakOver() {
	e.trying, e.failures, e.lastFailure = false, 0, nil
	e.cancel(TimerGiveUp)
}

// freshRound lets new work try again after the policy gave up.
func (e *Engine) freshRound() {
	if e.gaveUp {
		e.gaveUp = false
		e.streakOver()
	}
}

// connectFailed handles a socket lost while Connecting (a failed attempt)
// or once connected (the start of an outage). It reports whether the
// policy gave up.
func (e *Engine) connectFailed(attempt bool, cause error) bool {
	if !attempt {
		e.streak(e.now)
		return false
	}
	return e.failed(e.dialAt, cause)
}

// resolveFailed handles a retryable resolution failure while no usable
// credentials are held (work waits on it). It reports whether the policy
// gave up.
func (e *Engine) resolveFailed(cause error) bool {
	if e.credUsable() {
		return false
	}
	return e.failed(e.resolveAt, cause)
}

// credsArrived ends a failure streak that only credentials were part of.
func (e *Engine) credsArrived() {
	if e.trying && !e.wantSocket() {
		e.streakOver()
	}
}

// giveUpDue is the give-up window's end.
func (e *Engine) giveUpDue() {
	if !e.trying || e.hold || e.state == StateDraining || e.state == StateClosed || e.state.In(StateConnected) {
		return
	}
	e.giveUp()
}

// giveUp stops the retries and fails the waiting work: queries waiting for
// credentials, and every subscription (none can be served while the server
// stays away). The socket stays closed until new work or Connect.
func (e *Engine) giveUp() {
	err := &GiveUpError{Attempts: e.failures, Elapsed: e.now - e.tryingSince, Last: e.lastFailure}
	e.gaveUp = true
	e.streakOver()
	e.cancel(TimerResolveRetry)
	e.dialAfterAuth = false
	e.hold, e.wantConnect = true, false
	e.emit(Problem{Err: err, Recoverable: false})
	if e.state == StateConnecting || e.state == StateBackoff {
		e.must(TriggerGiveUp, err, 0)
	}
	e.failParked(err)
	for _, id := range slices.Clone(e.order) {
		if s := e.subs[id]; s != nil {
			e.endSub(s, err)
		}
	}
}

// endIfFinal ends the subscriptions still waiting for their first
// acknowledgement when cause leaves nothing that could bring credentials:
// no provider, or one that gave a final answer. Subscriptions the server
// had accepted stay parked for SetCredentials, as do those that asked to
// wait.
func (e *Engine) endIfFinal(cause error) {
	if e.canRefresh() || e.state == StateDraining || e.state == StateClosed {
		return
	}
	err := credFailure(cause)
	for _, id := range slices.Clone(e.order) {
		if s := e.subs[id]; s != nil && !s.acked && !s.wait {
			e.endSub(s, err)
		}
	}
}

// askNow asks the provider at once when work waits for credentials and
// nothing is in flight, instead of letting the work wait out a retry
// delay.
func (e *Engine) askNow() {
	if e.cfg.HasProvider && !e.resolving && !e.resolveBlocked && !e.gaveUp && e.state != StateClosed {
		e.resolve(e.refreshReason())
	}
}

// nsReady reports whether s can go on the wire: its SQL names its
// namespace, or the client has one.
func (e *Engine) nsReady(s *sub) bool { return e.namespace != "" || s.ownNS }

// anyNSReady reports whether a subscription waiting to be sent can go.
func (e *Engine) anyNSReady() bool {
	if e.namespace != "" {
		return true
	}
	for _, id := range e.order {
		if s := e.subs[id]; s != nil && s.phase == phasePending && !s.paused && s.ownNS {
			return true
		}
	}
	return false
}
