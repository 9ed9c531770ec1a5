package fsm

import (
	"strconv"
	"time"

	"github.com/kalamgo/kalam/auth/credential"
	"github.com/kalamgo/kalam/transport/wire"
)

// Effect is work the engine asks its driver to do, or news it reports. The
// concrete types are below. Effects that carry tokens redact them when
// formatted.
type Effect interface{ effect() }

// Timer names one of the engine's timers. Each is armed at most once at a
// time; re-arming replaces it.
type Timer uint8

const (
	TimerRefresh      Timer = iota // the token is due for refresh
	TimerResolveRetry              // retry a failed credential resolution
	TimerConnect                   // dial + auth_success took too long
	TimerBackoff                   // redial
	TimerPing                      // send a keepalive ping
	TimerPongDeadline              // nothing received since the last ping: dead link
	TimerDrain                     // drain deadline
	TimerPace                      // the pacer may let the next frame out
	TimerAck                       // a subscription's ack is overdue
	TimerCatchUp                   // a catch-up round is due
	TimerGiveUp                    // the give-up policy's window ends

	numTimers = int(TimerGiveUp) + 1
)

var timerNames = [numTimers]string{"Refresh", "ResolveRetry", "Connect", "Backoff", "Ping", "PongDeadline", "Drain", "Pace", "Ack", "CatchUp", "GiveUp"}

func (t Timer) String() string {
	if int(t) < numTimers {
		return timerNames[t]
	}
	return "Timer(" + strconv.Itoa(int(t)) + ")"
}

type (
	// ResolveCredentials asks the auth provider for credentials. Answer with
	// CredentialsResolved or CredentialsFailed carrying Req. At most one is in
	// flight.
	ResolveCredentials struct {
		Req    uint64
		Reason credential.Reason
	}

	// Dial opens a WebSocket to /v1/ws for Epoch. Answer with Dialed or
	// DialFailed, then feed its frames and its close.
	Dial struct{ Epoch uint64 }

	// Authenticate sends the authenticate message with Token on the socket of
	// Epoch (wire.AuthenticateMessage builds it). It is separate from Send so
	// that no token ever sits in a plain byte slice of an effect.
	Authenticate struct {
		Epoch uint64
		Token credential.Secret
	}

	// Send writes one text frame on the socket of Epoch. A driver whose socket
	// is not Epoch's drops it.
	Send struct {
		Epoch uint64
		Data  []byte
	}

	// Ping sends a keepalive on the socket of Epoch (a WebSocket Ping where
	// the platform allows it, else {"type":"ping"}). Answer with PongReceived.
	Ping struct{ Epoch uint64 }

	// CloseSocket closes the socket of Epoch with Code and Reason.
	CloseSocket struct {
		Epoch  uint64
		Code   int
		Reason string
	}

	// HTTPQuery posts Request to /v1/api/sql with Token (none when zero).
	// Answer with QueryResult carrying ID.
	HTTPQuery struct {
		ID      uint64
		Token   credential.Secret
		Request wire.SQLRequest
	}

	// SetTimer arms Timer to fire at At (engine time). Answer with TimerFired
	// carrying Gen; firings with another Gen are ignored.
	SetTimer struct {
		Timer Timer
		At    time.Duration
		Gen   uint64
	}

	// CancelTimer disarms Timer.
	CancelTimer struct{ Timer Timer }

	// Deliver hands an event to subscription Sub.
	Deliver struct {
		Sub   string
		Event Event
	}

	// QueryDone completes query ID with a response or an error.
	QueryDone struct {
		ID       uint64
		Response *wire.SQLResponse
		Err      error
	}

	// StateChanged reports a transition of the lifecycle. Internal
	// transitions (credentials refreshed, refresh due, another subscription)
	// are reported with From == To.
	StateChanged struct {
		From, To State
		Trigger  Trigger
		// Reason says why, when the trigger alone does not: the socket's
		// loss (ErrDeadLink, ErrConnectTimeout, a dial error, *CloseError),
		// a refusal (ErrCredentialsRejected), the credentials' loss, or
		// *GiveUpError. Nil for what the application asked for.
		Reason error
		// Code is the WebSocket close code behind the transition, if any.
		Code int
		// Attempt numbers the connection attempts since the socket was last
		// up: on entering Connecting, the attempt starting; on entering
		// Backoff, the attempt that failed. Zero elsewhere.
		Attempt int
		// RetryIn is the delay before the next attempt, on entering Backoff.
		RetryIn time.Duration
	}

	// ConnectionEvent reports what happened to the socket: opened
	// (Connected), or lost with its close code and whether the engine will
	// retry.
	ConnectionEvent struct {
		Epoch     uint64
		Connected bool
		Code      int
		Reason    string
		Err       error
		// Recoverable is false when the engine will not reconnect on its own.
		Recoverable bool
	}

	// Problem reports an error that is not tied to one command or
	// subscription: a malformed frame, a server error with a placeholder id,
	// a failed credential resolution. Recoverable says whether the engine
	// recovers by itself.
	Problem struct {
		Err         error
		Recoverable bool
	}

	// DrainDone reports how a drain ended. It is followed by the transition
	// to StateClosed.
	DrainDone struct{ Outcome DrainOutcome }
)

func (ResolveCredentials) effect() {}
func (Dial) effect()               {}
func (Authenticate) effect()       {}
func (Send) effect()               {}
func (Ping) effect()               {}
func (CloseSocket) effect()        {}
func (HTTPQuery) effect()          {}
func (SetTimer) effect()           {}
func (CancelTimer) effect()        {}
func (Deliver) effect()            {}
func (QueryDone) effect()          {}
func (StateChanged) effect()       {}
func (ConnectionEvent) effect()    {}
func (Problem) effect()            {}
func (DrainDone) effect()          {}

// DrainOutcome says how a graceful shutdown went.
type DrainOutcome struct {
	// TimedOut is true when the deadline hit before in-flight work finished.
	TimedOut bool
	// Aborted is true when Close interrupted the drain.
	Aborted bool
	// Queries finished during the drain, and those abandoned.
	QueriesCompleted, QueriesAbandoned int
	// Initial loads finished during the drain, and those abandoned.
	LoadsCompleted, LoadsAbandoned int
	// Subscriptions ended by the drain.
	Subscriptions int
}

// EventKind says what a subscription event is.
type EventKind uint8

const (
	// EventSubscribed: the server acknowledged the subscription (Schema set).
	EventSubscribed EventKind = iota
	// EventSnapshot: a batch of the initial load (Rows; Last on the final one).
	EventSnapshot
	// EventInsert: a row was inserted (Rows[0]).
	EventInsert
	// EventUpdate: a row changed (Rows[0]: key + new non-null values; OldValues[0]: key + changed columns' old values).
	EventUpdate
	// EventDelete: a row was deleted (OldValues[0]: the tombstone).
	EventDelete
	// EventResumed: the subscription was re-established after an outage
	// (From, Continuity). Replayed rows follow as EventSnapshot batches.
	EventResumed
	// EventError: the server refused or dropped the subscription (Err). It is
	// the subscription's last event.
	EventError
	// EventEnded: the subscription ended (Err says why: ErrDraining,
	// ErrClosed). It is the subscription's last event.
	EventEnded
)

var eventNames = [...]string{"subscribed", "snapshot", "insert", "update", "delete", "resumed", "error", "ended"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Continuity says what a resumed subscription may have missed.
type Continuity uint8

const (
	// ContinuityFull: nothing was missed (no outage, or nothing could change).
	ContinuityFull Continuity = iota
	// ContinuityNoDeletes: deletes may be missing, nothing else: inserts and
	// updates the subscription missed (an outage, a pause, changes the
	// server dropped) are replayed, but KalamDB does not replay deletes, nor
	// rows that left the WHERE filter. A materialized view must resync. A
	// catch-up round (the server may have dropped changes) is reported so.
	ContinuityNoDeletes
	// ContinuityBroken: a gap that could not be repaired: changes made
	// during it are lost to this subscription. Event.Err is a *GapError
	// saying why (no position to resume from and no snapshot to reload).
	// A materialized view must resync.
	ContinuityBroken
)

var continuityNames = [...]string{"full", "no-deletes", "broken"}

func (c Continuity) String() string {
	if int(c) < len(continuityNames) {
		return continuityNames[c]
	}
	return "Continuity(" + strconv.Itoa(int(c)) + ")"
}

// Event is one thing that happened to a subscription.
type Event struct {
	Kind EventKind
	// Rows and OldValues are raw JSON objects as the server sent them.
	Rows      []wire.Row
	OldValues []wire.Row
	// Schema is set on EventSubscribed and EventResumed.
	Schema []wire.SchemaField
	// Seq is the subscription's position after this event: the largest _seq
	// delivered so far (zero before any).
	Seq wire.SeqID
	// Batch is the initial-load batch number; Last marks the final batch.
	Batch uint32
	Last  bool
	// From and Continuity describe a resume.
	From       wire.SeqID
	Continuity Continuity
	// Err is set on EventError and EventEnded.
	Err error
}
