package kalam

import (
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

// Transition is one move of the lifecycle.
type Transition struct {
	From, To State
	Trigger  Trigger
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
