package fsm

import (
	"errors"
	"strconv"
	"time"

	"github.com/kalamgo/kalam/auth/credential"
)

// waits holds what the engine keeps to say why it moved, to give up on a
// server that stays unreachable, and to notice a refusal it did not expect.
type waits struct {
	// why is the reason the next transition reports; fireWhy sets it and
	// the transition consumes it.
	why struct {
		err  error
		code int
	}
	// planned is the backoff delay drawn when Backoff was entered, so the
	// transition can report it before the entry action arms the timer.
	planned    time.Duration
	hasPlanned bool

	// The give-up policy (giveup.go).
	failures    int           // failed attempts in a row (dials and resolutions)
	trying      bool          // a streak of failures is under way
	tryingSince time.Duration // when the streak's first attempt began
	lastFailure error
	dialAt      time.Duration // when the current dial began
	resolveAt   time.Duration // when the current resolution began
	gaveUp      bool          // the policy gave up; new work starts over

	// refusals are the triggers the engine fired expecting a row that the
	// table refused: a bug. CheckInvariants reports the first.
	refusals []error
}

// CloseError is the reason a socket the server (or the network) closed
// gives when no typed error says more: its close code and reason text.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	s := "kalam: socket closed (" + strconv.Itoa(e.Code) + ")"
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// credentialsError is why work that needs credentials cannot run: what
// happened, and what would fix it. It matches ErrNoCredentials, and
// ErrCredentialsRejected when the server (or the provider on its behalf)
// refused them.
type credentialsError struct {
	cause    error
	rejected bool
}

func (e *credentialsError) Error() string {
	if e.rejected {
		s := "kalam: credentials rejected"
		if e.cause != nil && e.cause != ErrCredentialsRejected {
			s += " (" + e.cause.Error() + ")"
		}
		return s + ": set new credentials or fix the ones the provider gives"
	}
	s := "kalam: no usable credentials"
	if e.cause != nil && e.cause != ErrNoCredentials {
		s += " (" + e.cause.Error() + ")"
	}
	return s + ": set credentials or check the auth provider"
}

func (e *credentialsError) Unwrap() []error {
	out := []error{ErrNoCredentials}
	if e.rejected {
		out = append(out, ErrCredentialsRejected)
	}
	if e.cause != nil && e.cause != ErrNoCredentials && e.cause != ErrCredentialsRejected {
		out = append(out, e.cause)
	}
	return out
}

// credFailure wraps cause, the reason no credentials are usable, into the
// error waiting work fails with.
func credFailure(cause error) error {
	var ce *credentialsError
	if errors.As(cause, &ce) {
		return cause
	}
	return &credentialsError{cause: cause, rejected: errors.Is(cause, ErrCredentialsRejected) || errors.Is(cause, credential.ErrRejected)}
}

// fireWhy fires t, reporting err and code as the transition's reason.
func (e *Engine) fireWhy(t Trigger, err error, code int) error {
	e.why.err, e.why.code = err, code
	defer func() { e.why.err, e.why.code = nil, 0 }()
	return e.fire(t)
}

// must fires t where the table has a row for it in the current state; a
// refusal is a bug, recorded for CheckInvariants and reported as a Problem
// rather than dropped.
func (e *Engine) must(t Trigger, err error, code int) {
	if ferr := e.fireWhy(t, err, code); ferr != nil {
		e.unexpected(ferr)
	}
}

func (e *Engine) unexpected(err error) {
	if len(e.refusals) < 8 {
		e.refusals = append(e.refusals, err)
	}
	e.emit(Problem{Err: errors.Join(errors.New("kalam: internal: a transition the engine relies on was refused"), err), Recoverable: true})
}

// stateChanged builds the effect of a transition with its reason, attempt
// and, on entering Backoff, the delay before the next attempt.
func (e *Engine) stateChanged(from, to State, t Trigger) StateChanged {
	sc := StateChanged{From: from, To: to, Trigger: t, Reason: e.why.err, Code: e.why.code}
	e.why.err, e.why.code = nil, 0 // a nested transition has its own reason
	if from == to {
		return sc
	}
	switch to {
	case StateConnecting:
		sc.Attempt = e.attempts + 1
	case StateBackoff:
		sc.Attempt = e.attempts + 1
		e.planned, e.hasPlanned = e.backoffDelay(e.attempts), true
		sc.RetryIn = e.planned
	}
	return sc
}

// nextBackoff is the delay armBackoff waits: the one the transition
// reported, else a fresh draw.
func (e *Engine) nextBackoff() time.Duration {
	if e.hasPlanned {
		e.hasPlanned = false
		return e.planned
	}
	return e.backoffDelay(e.attempts)
}

// socketReason is the reason a lost socket gives: the typed error when
// there is one, else its close code and text.
func socketReason(code int, reason string, err error) error {
	if err != nil {
		return err
	}
	return &CloseError{Code: code, Reason: reason}
}

// retryNow leaves Backoff for a dial with the credentials just settled. The
// Retry row needs a valid token; without one (anonymous access, or expired
// meanwhile) the credentials are lost instead, an expected refusal.
func (e *Engine) retryNow() {
	if err := e.fire(TriggerRetry); err != nil {
		e.loseCredentials(credential.ErrTokenExpired)
	}
}
