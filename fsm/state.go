package fsm

import "strconv"

// State is a lifecycle state of the client. The zero value is StateUnauthed.
type State uint8

const (
	// StateUnauthed: no usable credentials. Credentials may be set or
	// resolved; nothing that needs a token runs. Followed by StateAuthed (credentials
	// arrive), StateDraining or StateClosed.
	StateUnauthed State = iota
	// StateAuthed: a valid, unexpired token (or explicit anonymous access) is
	// held and no socket is ready. HTTP queries run. Followed by its substates
	// StateConnecting and StateBackoff, by StateUnauthed (credentials lost),
	// StateDraining or StateClosed.
	StateAuthed
	// StateConnecting (substate of StateAuthed): dialing and waiting for
	// auth_success. Followed by StateConnected, StateBackoff (dial or socket
	// failure), StateUnauthed (auth refused, credentials lost), StateAuthed
	// (disconnect asked; the give-up policy ended the attempts; or the token
	// refused over HTTP while new credentials are on their way: the attempt
	// is abandoned and redialled with them), and, as a substate of
	// StateAuthed, StateDraining or StateClosed.
	StateConnecting
	// StateBackoff (substate of StateAuthed): waiting, with jitter, to redial.
	// Followed by StateConnecting, StateAuthed (disconnect asked, or the
	// give-up policy ended the attempts) and, as a substate of StateAuthed,
	// StateUnauthed, StateDraining or StateClosed.
	StateBackoff
	// StateConnected: the socket is open and auth_success was received; no
	// subscription is registered. Followed by StateLive, StateBackoff (socket
	// lost), StateUnauthed (auth refused or credentials lost), StateAuthed
	// (disconnect asked), StateDraining or StateClosed.
	StateConnected
	// StateLive (substate of StateConnected): at least one subscription is
	// registered on the socket. Followed by StateConnected (last subscription
	// removed) and every state StateConnected may be followed by.
	StateLive
	// StateDraining: graceful shutdown; no new work is accepted, in-flight
	// work finishes or the deadline hits. Followed by StateClosed only.
	StateDraining
	// StateClosed: terminal; every command fails with ErrClosed.
	StateClosed

	numStates = int(StateClosed) + 1
)

var stateNames = [numStates]string{"Unauthed", "Authed", "Connecting", "Backoff", "Connected", "Live", "Draining", "Closed"}

// String returns the state's name, e.g. "Live".
func (s State) String() string {
	if int(s) < numStates {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the name, so states read well in JSON and logs.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseState is the inverse of State.String.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// States lists every state in order of progress.
func States() []State {
	out := make([]State, numStates)
	for i := range out {
		out[i] = State(i)
	}
	return out
}

// Parent returns the superstate of s (StateAuthed for StateConnecting and
// StateBackoff, StateConnected for StateLive), or false for a top-level state.
func (s State) Parent() (State, bool) {
	switch s {
	case StateConnecting, StateBackoff:
		return StateAuthed, true
	case StateLive:
		return StateConnected, true
	}
	return 0, false
}

// In reports whether s is t or one of t's substates.
func (s State) In(t State) bool {
	if s == t {
		return true
	}
	p, ok := s.Parent()
	return ok && p == t
}

// Trigger is an event that may move the lifecycle from one state to another.
type Trigger uint8

const (
	// TriggerCredentials: usable credentials arrived (resolved, refreshed or set).
	TriggerCredentials Trigger = iota
	// TriggerCredentialsLost: the token expired or was refused and no new one could be had.
	TriggerCredentialsLost
	// TriggerConnect: open the socket.
	TriggerConnect
	// TriggerAuthOK: the server sent auth_success.
	TriggerAuthOK
	// TriggerAuthRejected: the server sent auth_error or closed with 1008.
	TriggerAuthRejected
	// TriggerSocketLost: dial failure, dead link, or a close that is not ours.
	TriggerSocketLost
	// TriggerRetry: the backoff delay is over.
	TriggerRetry
	// TriggerSubscribe: a subscription was registered on the socket.
	TriggerSubscribe
	// TriggerUnsubscribeAll: the last subscription was removed.
	TriggerUnsubscribeAll
	// TriggerDisconnect: the application asked to close the socket.
	TriggerDisconnect
	// TriggerRefreshDue: the token is within the refresh margin of expiry.
	TriggerRefreshDue
	// TriggerDrain: graceful shutdown was asked for.
	TriggerDrain
	// TriggerDrained: in-flight work finished, or the drain deadline passed.
	TriggerDrained
	// TriggerClose: immediate shutdown was asked for.
	TriggerClose
	// TriggerTokenRefused: the server refused the current token over HTTP
	// (a 401 on a query). Appended last so the ABI's trigger numbers stay.
	TriggerTokenRefused
	// TriggerGiveUp: the give-up policy stopped the connection attempts.
	TriggerGiveUp

	numTriggers = int(TriggerGiveUp) + 1
)

var triggerNames = [numTriggers]string{
	"Credentials", "CredentialsLost", "Connect", "AuthOK", "AuthRejected", "SocketLost", "Retry",
	"Subscribe", "UnsubscribeAll", "Disconnect", "RefreshDue", "Drain", "Drained", "Close",
	"TokenRefused", "GiveUp",
}

// String returns the trigger's name, e.g. "SocketLost".
func (t Trigger) String() string {
	if int(t) < numTriggers {
		return triggerNames[t]
	}
	return "Trigger(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText writes the name.
func (t Trigger) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Triggers lists every trigger.
func Triggers() []Trigger {
	out := make([]Trigger, numTriggers)
	for i := range out {
		out[i] = Trigger(i)
	}
	return out
}
