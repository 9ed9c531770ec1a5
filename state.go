package kalam

import (
	"strconv"
	"time"

	"github.com/kalamgo/kalam/fsm"
)

// State is a lifecycle state; see the constants and docs/lifecycle.svg.
type State = fsm.State

// The lifecycle states. Connecting and Backoff are substates of Authed; Live
// is a substate of Connected (use State.In to test membership).
const (
	StateUnauthed   = fsm.StateUnauthed
	StateAuthed     = fsm.StateAuthed
	StateConnecting = fsm.StateConnecting
	StateBackoff    = fsm.StateBackoff
	StateConnected  = fsm.StateConnected
	StateLive       = fsm.StateLive
	StateDraining   = fsm.StateDraining
	StateClosed     = fsm.StateClosed
)

// Trigger is what moved the lifecycle.
type Trigger = fsm.Trigger

// Transition is one move of the lifecycle, and why it happened.
type Transition struct {
	From, To State
	Trigger  Trigger
	// Reason says why when the trigger alone does not: the socket's loss
	// (ErrDeadLink, ErrConnectTimeout, a dial error, *CloseError), a refusal
	// (ErrCredentialsRejected), the credentials' loss, or *GiveUpError. Nil
	// for what the application asked for.
	Reason error
	// Code is the WebSocket close code behind the transition, if any.
	Code int
	// Attempt numbers the connection attempts since the socket was last up:
	// on entering Connecting the attempt starting, on entering Backoff the
	// attempt that failed; zero otherwise.
	Attempt int
	// RetryIn is the delay before the next attempt, on entering Backoff.
	RetryIn time.Duration
}

// String describes the transition in one line, e.g. "Connecting -> Backoff
// (SocketLost, attempt 2, retry in 740ms): kalam: connect timeout".
func (t Transition) String() string {
	s := t.From.String() + " -> " + t.To.String() + " (" + t.Trigger.String()
	if t.Code != 0 {
		s += ", code " + strconv.Itoa(t.Code)
	}
	if t.Attempt > 0 {
		s += ", attempt " + strconv.Itoa(t.Attempt)
	}
	if t.RetryIn > 0 {
		s += ", retry in " + t.RetryIn.Round(time.Millisecond).String()
	}
	s += ")"
	if t.Reason != nil {
		s += ": " + t.Reason.Error()
	}
	return s
}

// ConnectionEvent reports the socket opening (Connected) or being lost,
// with the close code and reason when there was one.
type ConnectionEvent struct {
	Connected bool
	Code      int
	Reason    string
	Err       error
	// Recoverable is false when the client will not reconnect by itself.
	Recoverable bool
}

// DrainOutcome says how Drain went.
type DrainOutcome = fsm.DrainOutcome

// Continuity says what a resumed subscription may have missed.
type Continuity = fsm.Continuity

// Continuity values.
const (
	ContinuityFull      = fsm.ContinuityFull
	ContinuityNoDeletes = fsm.ContinuityNoDeletes
	ContinuityBroken    = fsm.ContinuityBroken
)
